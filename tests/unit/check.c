/* check.c: the harness's counters, shared by every unit-test binary. */
#include "check.h"

CHECK_GLOBALS;
