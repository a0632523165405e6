/*
 * stdarg.h for C source plugins compiled by libtcc (see stddef.h here).
 * tcc predefines __builtin_va_list and the __builtin_va_* macros; va_arg
 * calls __va_arg from tcc's runtime, which plugkit links when the tcc
 * package provides it (docs/backends/source.md).
 */
#ifndef PK_TCC_STDARG_H
#define PK_TCC_STDARG_H

typedef __builtin_va_list va_list;
typedef __builtin_va_list __gnuc_va_list;
#define _VA_LIST_DEFINED
#define va_start(ap, last) __builtin_va_start(ap, last)
#define va_arg(ap, type) __builtin_va_arg(ap, type)
#define va_copy(dest, src) __builtin_va_copy(dest, src)
#define va_end(ap) __builtin_va_end(ap)

#endif
#undef __need___va_list
