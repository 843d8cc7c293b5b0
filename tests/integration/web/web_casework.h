/* web_casework.h - test_web's casework tests (casework.c), run in test_web's suite. */
#ifndef TEST_WEB_CASEWORK_H
#define TEST_WEB_CASEWORK_H

#include <stddef.h>

#include "../../lib/cu.h"

extern const cu_test_t web_casework_tests[];
extern const size_t web_casework_n;

#endif
