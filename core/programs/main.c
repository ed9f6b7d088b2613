/* core/programs/main.c - the `trainer` executable: everything is in libtrainer. */
#include "trainer/trainer.h"

int main(int argc, char **argv) { return tr_main(argc, argv); }
