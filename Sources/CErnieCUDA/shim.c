#include "CErnieCUDA.h"
