/* score.h - STP scoring (score.c); the API is in modus.h. */
#ifndef MODUS_SCORE_H
#define MODUS_SCORE_H
#include "modus/modus.h"
#endif
