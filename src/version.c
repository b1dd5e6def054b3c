/* version.c — eve_version(): the library's own version, fixed when it was
 * built (eve_version.h is generated from CMake's project(eve VERSION ...)). */
#include "eve.h"

const char *eve_version(void) { return EVE_VERSION_STRING; }
