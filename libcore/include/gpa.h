/* gpa.h: guest-physical addresses, a type of their own so that they never mix with host ones. */
#ifndef CORE_GPA_H
#define CORE_GPA_H

#include <stdint.h>

/* A guest-physical address; host addresses are plain pointers (uint8_t *), never a gpa_t. */
typedef uint64_t gpa_t;

#endif
