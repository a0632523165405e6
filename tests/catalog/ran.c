/* ran.c: an executable WITHOUT plugkit's descriptor that, if it is ever
   run, leaves a file "<its path>.ran" behind: the catalog tests prove a
   scan never runs it. */
#include <stdio.h>

int main(int argc, char **argv) {
  char path[4096];
  FILE *f;
  (void)argc;
  snprintf(path, sizeof path, "%s.ran", argv[0]);
  if ((f = fopen(path, "w")) != NULL)
    fclose(f);
  return 0;
}
