// Data-free probing of a model's weights (paper 002, section 4.1, Figures 4, 7-9, 14).
//
// Codes Z_n ~ N(0, I_k) are iterated to their attractors Z*_n (N = k draws in the paper); the attractors form
// a dictionary of latent signals. Test samples are encoded, z = E(x), and reconstructed in latent space by
// Orthogonal Matching Pursuit (Mallat & Zhang [33]) against the dictionary with a growing number of atoms;
// the reconstructed codes are decoded and compared with the samples in output space (Figure 4: MSE vs atoms).
// The baseline dictionary is a random orthonormal basis of the latent space.
//
// OMP here: atoms are the dictionary's rows scaled to unit norm (zero rows are never chosen); each step picks
// the unused atom with the largest |<atom, residual>| (ties: lowest index), then refits y by least squares on
// all chosen atoms (an incrementally updated QR factorisation, Eigen), so the residual is orthogonal to their
// span. It stops after max_atoms atoms, when the residual is at most residual_tol * ||y||, or when no atom
// outside the span is left.
#pragma once

#include <cstdint>
#include <vector>

#include "dynamics/field.h"

namespace gg {

// ---- Dictionaries -----------------------------------------------------------------------------------------
struct ProbeDictionary {
  Tensor starts;              // [M, k] the Gaussian codes Z_n
  Tensor atoms;               // [M, k] their final iterates Z*_n: the dictionary (latent space)
  Tensor decoded;             // [M, ...] D(Z*_n), to look at
  Trajectories trajectories;  // how each start fared (the atoms include the unconverged ones unless dropped)
};
// n_atoms <= 0 means k (the paper takes N = k). Appendix D's setting for section 4.1 by default.
ProbeDictionary noise_attractor_dictionary(Autoencoder& model, int64_t n_atoms = 0, uint64_t seed = 0,
                                           const IterateOptions& options = IterateOptions::foundation(),
                                           bool converged_only = false);

// A k x k matrix with orthonormal rows, Haar-distributed: Q of the QR factorisation of a seeded Gaussian
// matrix (Eigen's HouseholderQR), its columns' signs fixed so that diag(R) > 0. f64.
Tensor random_orthonormal_basis(int64_t k, uint64_t seed = 0);

// ---- Orthogonal Matching Pursuit --------------------------------------------------------------------------
struct OmpResult {
  std::vector<int64_t> atoms;          // chosen rows of the dictionary, in order of choice
  std::vector<double> coefficients;    // y ~ sum_j coefficients[j] * dictionary[atoms[j]] (the rows as given)
  std::vector<double> residual_norms;  // ||y - y_s|| after s = 0, 1, ..., atoms.size() atoms
  std::vector<double> reconstruction;  // y_S with all chosen atoms (d values)
};
// dictionary [M, d], y [d] or [1, d].
OmpResult omp(const Tensor& dictionary, const Tensor& y, int64_t max_atoms, double residual_tol = 1e-12);

// OMP of every row of targets [n, d] against the dictionary, keeping the reconstruction after each of
// atom_counts (increasing, each >= 1) atoms: [n, d] f64 per count. A count beyond the atoms OMP could use
// keeps its last reconstruction.
std::vector<Tensor> omp_reconstructions(const Tensor& dictionary, const Tensor& targets,
                                        const std::vector<int64_t>& atom_counts);

// Figure 4's curve for one test set: test_x [n, ...] is encoded, each code reconstructed by OMP with every
// count of atom_counts from the latent dictionary [M, k], decoded, and compared with x.
struct ProbeCurve {
  std::vector<int64_t> atom_counts;
  std::vector<double> latent_mse;  // mean over samples and coordinates of (z_s - E(x))^2
  std::vector<double> output_mse;  // mean of (D(z_s) - x)^2 (Figure 4's error)
  std::vector<double>
      output_mse_to_reconstruction;  // mean of (D(z_s) - D(E(x)))^2: the part OMP is to blame for
};
ProbeCurve probe_reconstruction_curve(Autoencoder& model, const Tensor& dictionary, const Tensor& test_x,
                                      const std::vector<int64_t>& atom_counts, int64_t batch_size = 1024);

// 1, 2, 4, ... up to and including max_atoms: a convenient atom_counts.
std::vector<int64_t> doubling_counts(int64_t max_atoms);

}  // namespace gg
