// The multi-task learning package: tasks, models, weighting methods.
#pragma once

#include "mtl/data/dataset.h"
#include "mtl/model.h"
#include "mtl/task.h"
#include "mtl/task_gradients.h"
#include "mtl/weighting/ew.h"
#include "mtl/weighting/weighting.h"
