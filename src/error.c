/* error.c — the error table: messages and names come from EVE_ERRNO_MAP. */
#include "eve.h"

const char *eve_strerror(int err) {
  switch (err) {
  case EVE_OK: return "EVE_OK: success";
#define EVE__ERR_MSG(name, code, msg) case name: return #name ": " msg;
    EVE_ERRNO_MAP(EVE__ERR_MSG)
#undef EVE__ERR_MSG
  default: return "EVE_UNKNOWN: unknown error code";
  }
}

const char *eve_err_name(int err) {
  switch (err) {
  case EVE_OK: return "EVE_OK";
#define EVE__ERR_NAME(name, code, msg) case name: return #name;
    EVE_ERRNO_MAP(EVE__ERR_NAME)
#undef EVE__ERR_NAME
  default: return "EVE_UNKNOWN";
  }
}
