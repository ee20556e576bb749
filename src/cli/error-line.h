// error-line.h - the one line every failure ends in (main.cpp prints it after "error: "): retain's
// own errors as they are, and the errors libraries raise (std::filesystem, the allocators, the
// standard containers, libtorch) in the same "[component] thing: what" form, without the library's
// wording ("filesystem error: ...", "DefaultCPUAllocator: ...", "vector::_M_default_append").
#pragma once

#include <exception>
#include <string>

namespace retain::cli {

std::string error_line(const std::exception_ptr& error);

}  // namespace retain::cli
