// The data pipeline of the nn library in one include (libtorch: torch::data): datasets and batching, per-sample
// transforms, samplers, the DataLoader, and the IDX (Fashion-MNIST) and CSV readers.
#pragma once

#include "nn/data/csv.h"
#include "nn/data/dataloader.h"
#include "nn/data/dataset.h"
#include "nn/data/idx.h"
#include "nn/data/random.h"
#include "nn/data/samplers.h"
#include "nn/data/transforms.h"
