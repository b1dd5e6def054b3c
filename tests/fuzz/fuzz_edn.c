/* fuzz_edn.c — libFuzzer target: the input is EDN text.  The properties
 * checked are listed in roundtrip.h. */
#include "roundtrip.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  rt_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rt_input(data, size, eve_read_edn, 0);
  return 0;
}
