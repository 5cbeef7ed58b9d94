/* tests/fuzz/stb_impl.c — Debian's stb_image and stb_image_resize implementations compiled
 * into the image fuzzer, so the decoders are instrumented (coverage, ASan, UBSan) instead of
 * coming uninstrumented from libstb.so. Only the fuzz build uses this file. */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image_resize.h>
