// joint.cpp - joint multi-task training, the upper bound (see baselines.h).
#include "method/baselines.h"

namespace retain::method {

std::unique_ptr<Method> joint_create(config::Options& options) {
  options.reject_unused("joint");
  return std::make_unique<Joint>();
}

}  // namespace retain::method
