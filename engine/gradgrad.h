// The whole engine in one include.
#pragma once

#include "engine/autograd/autograd.h"
#include "engine/autograd/node.h"
#include "engine/core.h"
#include "engine/ops/ops.h"
#include "engine/tensor.h"
#include "engine/threads.h"
