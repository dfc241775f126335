// The autoencoders of the experiments: an MLP of any widths, the convolutional net of Table 3 of paper 002
// (stride-2 3x3 convolutions C -> d -> 2d -> 4d -> 8d, a linear bottleneck to k, and the mirror image with
// transposed convolutions), and any encoder and decoder listed layer by layer (arch "sequential", e.g. a
// model trained in PyTorch: models/layer_spec.h, docs/pretrained.md). Encoder E and decoder D are separate
// Sequential modules, so E, D, the reconstruction D(E(x)) and the latent map E(D(z)) are one call each.
//
// Parameter names (PyTorch's, for nn.Sequential children of attributes `encoder` and `decoder`):
//   mlp   encoder: 0 Flatten, 1 Linear, 2 act, 3 Linear, ..., last Linear -> k, code_activation
//         decoder: 0 Linear, 1 act, ..., last Linear -> D, output_activation, Unflatten(input_shape)
//   conv  encoder: 0 ZeroPad2d, 1 Conv2d, 2 act, 3 Conv2d, 4 act, 5 Conv2d, 6 act, 7 Conv2d, 8 act,
//                  9 Flatten, 10 Linear -> k, 11 code_activation
//         decoder: 0 Linear, 1 act, 2 Unflatten, 3 ConvT, 4 act, 5 ConvT, 6 act, 7 ConvT, 8 act, 9 ConvT,
//                  10 output_activation, 11 ZeroPad2d (negative: a crop)
//   sequential     encoder.<i>, decoder.<i>: layer i of the lists, activations and shape layers counted
// The shape layers are always present (no-ops where there is nothing to do), so the names do not depend on
// the input shape. A variational encoder's last Linear has 2k outputs: the mean, then the log-variance.
//
// Conv inputs whose H or W is not a multiple of 16 (MNIST's 28) are zero-padded to the next multiple
// (28 -> 32: 2 rows above, 2 below; an odd excess puts the extra row below / column right) by the
// encoder's ZeroPad2d, and the decoder's last ZeroPad2d, with the amounts negated, cuts the same window back
// out, so D(E(x)) has x's shape.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "models/layer_spec.h"
#include "models/layers.h"

namespace gg {

struct AutoencoderConfig {
  std::string arch = "mlp";                  // "mlp", "conv" or "sequential"
  Shape input_shape;                         // one sample: [D], or [C, H, W] (required; conv needs [C, H, W])
  int64_t code_dim = 0;                      // k (required)
  std::vector<int64_t> hidden = {64};        // mlp: encoder widths, the decoder mirrors them; may be empty
  int64_t width = 32;                        // conv: d
  // sequential: E's and D's layers in order (JSON keys "encoder" and "decoder"). E must map one sample to
  // [k] ([2k] when variational), D [k] back to input_shape; the Autoencoder checks both when it is built.
  std::vector<LayerSpec> encoder, decoder;
  // The three activations are mlp's and conv's; a sequential model lists its own.
  std::string activation = "relu";           // between layers
  std::string code_activation = "identity";  // on the code: sigmoid for sparse-KL, relu for sparse-L1
  std::string output_activation = "identity";  // on the reconstruction, e.g. sigmoid for [0, 1] pixels
  std::string init = "torch_default";  // parse_init names; kaiming takes each layer's next activation's gain
  bool variational = false;            // the encoder outputs a mean and a log-variance
  DType dtype = DType::f32;
  Device device = Device::cpu();  // where the parameters are made ("cpu", "cuda"); refused by name if not built
  uint64_t seed = 0;  // draws every initial weight
};

// Throws an Error naming the offending key unless the config is consistent (valid names, positive sizes,
// conv input [C, H, W], identity code_activation when variational, sequential layers on both sides).
void validate(const AutoencoderConfig& c);
// JSON with the keys above (dtype as "f32"/"f64", device as "cpu"/"cuda:0"; hidden only for mlp, width only
// for conv, encoder and decoder instead of the activations for sequential).
void to_json(nlohmann::json& j, const AutoencoderConfig& c);
// The inverse: every key but input_shape and code_dim is optional. An unknown key, a key of the other arch,
// a value of the wrong type or a bad value is an Error naming the key.
void from_json(const nlohmann::json& j, AutoencoderConfig& c);

class Autoencoder : public Module {
 public:
  explicit Autoencoder(const AutoencoderConfig& config);

  const AutoencoderConfig& config() const { return config_; }
  Sequential& encoder() { return *encoder_; }
  Sequential& decoder() { return *decoder_; }

  // x [N, input_shape...] -> z [N, k]; for a variational model, the mean.
  Tensor encode(const Tensor& x);
  struct Distribution {
    Tensor mean, logvar;  // [N, k] each
  };
  // q(z | x) of a variational model (an error otherwise).
  Distribution encode_distribution(const Tensor& x);
  // z [N, k] -> [N, input_shape...].
  Tensor decode(const Tensor& z);
  // D(E(x)): the reconstruction (from the mean when variational; sampling belongs to the loss).
  Tensor forward(const Tensor& x) override;
  // E(D(z)).
  Tensor latent_map(const Tensor& z);

  std::string describe() const override;

 private:
  void check_sample(const Tensor& t, const Shape& sample, const char* what) const;
  // arch sequential: builds the listed layers, passing one sample of zeros through each as it is added, so
  // that a layer that does not fit its input, or an end of the wrong shape, is an Error naming its place in
  // the config ("model.encoder[3]: Linear(392->16): input f32[1,400] needs a last axis of 392").
  void build_listed_layers(Generator& gen);

  AutoencoderConfig config_;
  Sequential* encoder_;
  Sequential* decoder_;
};

}  // namespace gg
