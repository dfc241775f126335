# The compile options of datasets/stb_impl.cpp, the one translation unit that compiles Debian's stb_image. Both
# the main tree and the fuzz tree (fuzz/CMakeLists.txt) include this file, because a source property is per folder.
#
# stb_image decodes corrupt files with int arithmetic that can overflow, and no check on the bytes beforehand can
# rule that out: fuzz_image found a JPEG whose DC coefficient times its 16-bit quantization step is -44100 * 48831
# (tests/test_images.cpp builds such a file by hand). -fwrapv makes signed overflow wrap, as defined behaviour, so
# a corrupt file decodes to garbage pixels in every build; UBSan's signed-overflow check is switched off for this
# file because overflow is no longer undefined in it (recent clang instruments it even under -fwrapv).
#
# stb_image also copies a PNG's first IDAT chunk with memcpy(buffer, data, length) before it has a buffer when that
# chunk is empty (a valid PNG): memcpy(NULL, p, 0), undefined on paper and a no-op in glibc. fuzz_image's 10-minute
# run found it; UBSan's nonnull check is switched off here alone, rather than refusing valid files.
set(GG_STB_COMPILE_OPTIONS -fwrapv -fno-sanitize=nonnull-attribute,signed-integer-overflow)
