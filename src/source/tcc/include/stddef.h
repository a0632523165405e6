/*
 * stddef.h for C source plugins compiled by libtcc. A compiler provides
 * this header, not the C library; Debian's libtcc-dev ships without tcc's
 * own headers, so plugkit carries the few a plugin needs. Every type
 * comes from tcc's predefined macros. glibc's "__need_*" requests are
 * satisfied by defining everything once.
 */
#ifndef PK_TCC_STDDEF_H
#define PK_TCC_STDDEF_H

typedef __SIZE_TYPE__ size_t;
typedef __PTRDIFF_TYPE__ ptrdiff_t;
typedef __WCHAR_TYPE__ wchar_t;
typedef union {
  long long ll;
  long double ld;
  void *p;
} max_align_t;

#define NULL ((void *)0)
#define offsetof(type, field) ((size_t)&((type *)0)->field)

#endif
#undef __need_size_t
#undef __need_ptrdiff_t
#undef __need_wchar_t
#undef __need_NULL
#undef __need_wint_t
