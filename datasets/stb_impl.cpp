// The one translation unit that compiles the stb single-header libraries (image loading, PNG/JPEG/BMP
// writing, resizing). Every other file includes the headers without the *_IMPLEMENTATION defines.
// Their warnings are third-party code and are silenced here only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wcast-qual"

// Softimage PIC is left out: Debian's stb_image (2.27) decodes a PIC whose pixel data is cut short into a null
// buffer with zero channels and hands that to its format conversion, which asserts (fuzz_image found it; the
// file is fuzz/corpus/image/pic_cut_short.pic). Such a file is now an unknown image type, named like any other.
#define STBI_NO_PIC
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image_resize.h>

#pragma GCC diagnostic pop
