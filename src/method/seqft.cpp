// seqft.cpp - SeqFT: plain sequential full fine-tuning, every parameter trained on each task in
// turn. The lower bound every continual-learning method is measured against.
#include "method/baselines.h"

namespace retain::method {

std::unique_ptr<Method> seqft_create(config::Options& options) {
  options.reject_unused("seqft");
  return std::make_unique<SeqFT>();
}

}  // namespace retain::method
