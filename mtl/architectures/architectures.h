// The multi-task architectures: hps (hard parameter sharing), soft (soft sharing), cross_stitch, mmoe, cgc, ple,
// dselect_k and mtan. Each is a MultiTaskModel (mtl/model.h) built around the user's own modules (encoders,
// experts, towers, heads given as nn::Sequential or as factories of them).
#pragma once

#include "mtl/architectures/cgc.h"
#include "mtl/architectures/cross_stitch.h"
#include "mtl/architectures/dselect_k.h"
#include "mtl/architectures/hps.h"
#include "mtl/architectures/mmoe.h"
#include "mtl/architectures/mtan.h"
#include "mtl/architectures/ple.h"
#include "mtl/architectures/soft.h"
