/* utf8.h — UTF-8 (utf8.c): strict decoding, encoding, validation. */
#ifndef EVE_UTF8_H
#define EVE_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decode one code point at s (n > 0 bytes available).  Returns its length
 * (1..4) or 0 when the bytes are not valid UTF-8 (an overlong form, a
 * surrogate, past U+10FFFF, a missing or stray continuation byte). */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* Encode cp (a scalar value) into out; returns the length. */
size_t utf8_encode(uint32_t cp, char out[4]);
/* 1 if s[0..n) is well-formed UTF-8, as utf8_decode judges it. */
int utf8_valid(const char *s, size_t n);

#endif
