/* stdbool.h for C source plugins compiled by libtcc (see stddef.h here). */
#ifndef PK_TCC_STDBOOL_H
#define PK_TCC_STDBOOL_H

#define bool _Bool
#define true 1
#define false 0
#define __bool_true_false_are_defined 1

#endif
