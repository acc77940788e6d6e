// The declaration in include/CLibFuzzer.h is all this module provides; libFuzzer itself comes
// from the toolchain's compiler-rt through -sanitize=fuzzer.
#include "CLibFuzzer.h"
