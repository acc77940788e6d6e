#ifndef CROSSWIND_CLIBFUZZER_H
#define CROSSWIND_CLIBFUZZER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (compiler-rt, linked by -sanitize=fuzzer): parses libFuzzer's flags from
/// argv and runs `callback` on every input. SwiftPM gives each executable an entry point of its
/// own (MODULE_main), so the targets call the driver from there instead of libFuzzer's main.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
