#ifndef CERNIECUDA_H
#define CERNIECUDA_H
#endif
