// report-svg.cpp - report.svg: a heat map of R beside each task's score over the stream.
#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <utility>

#include "eval/metrics.h"
#include "eval/report-internal.h"

namespace retain::eval {

using namespace report_internal;

namespace {

// SVG text content and attribute values.
std::string xml(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// At most `limit` characters (UTF-8 aware), with an ellipsis when cut.
std::string shorten(const std::string& text, size_t limit) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (++chars > limit) return text.substr(0, i) + "…";
  }
  return text;
}

size_t char_count(const std::string& text) {
  return std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

// Viridis at five stops, interpolated: 0 dark violet .. 100 yellow.
std::string heat_colour(double value) {
  static const double kStops[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  const double x = std::clamp(value / 100.0, 0.0, 1.0) * 4;
  const int low = std::min(static_cast<int>(x), 3);
  const double f = x - low;
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "#%02x%02x%02x",
                static_cast<int>(std::lround(kStops[low][0] + f * (kStops[low + 1][0] - kStops[low][0]))),
                static_cast<int>(std::lround(kStops[low][1] + f * (kStops[low + 1][1] - kStops[low][1]))),
                static_cast<int>(std::lround(kStops[low][2] + f * (kStops[low + 1][2] - kStops[low][2]))));
  return buffer;
}

// Matplotlib's tab10, one per task, repeating after ten.
const char* line_colour(size_t task) {
  static const char* kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return kColours[task % 10];
}

std::string px(double value) { return format("%.1f", value); }

}  // namespace

std::string report_svg(const RunResult& result, const std::string& name) {
  constexpr double kCellW = 56, kCellH = 28, kCharW = 7, kGap = 70, kLegendRow = 16;
  constexpr size_t kLabelChars = 16;
  const size_t count = result.tasks.size();
  const auto completed = static_cast<size_t>(completed_tasks(result));
  std::vector<std::string> labels;
  size_t label_chars = 0;
  for (const auto& task : result.tasks) {
    labels.push_back(shorten(task, kLabelChars));
    label_chars = std::max(label_chars, char_count(labels.back()));
  }
  // Heat map: row labels "after <task>" on the left, column labels rotated above.
  const double left = 10 + kCharW * static_cast<double>(label_chars + 6);
  const double top = 40 + kCharW * static_cast<double>(label_chars) * 0.71 + 10;
  const double map_h = kCellH * static_cast<double>(count);
  // Line chart to the right: x = after task t (1..T), y = score; legend beside it.
  const double chart_x = left + kCellW * static_cast<double>(count) + kGap;
  const double chart_w = std::max(300.0, 28.0 * static_cast<double>(count));
  const double chart_h = std::max(200.0, map_h);
  const double legend_x = chart_x + chart_w + 20;
  const std::string title = name + ": accuracy matrix R and scores over the stream";
  const double width = std::max(legend_x + 30 + kCharW * static_cast<double>(label_chars) + 10,
                                20 + 9 * static_cast<double>(char_count(title)));
  const double height = top + std::max(chart_h + 40, kLegendRow * static_cast<double>(count)) + 10;
  double y_max = 100;
  for (size_t t = 0; t < completed; ++t) {
    for (const auto& value : result.R[t]) {
      if (value) y_max = std::max(y_max, std::ceil(*value / 20) * 20);  // quarters stay whole numbers
    }
  }
  auto chart_px = [&](size_t t, double value) {
    const double x = count == 1 ? chart_x + chart_w / 2
                                : chart_x + chart_w * static_cast<double>(t) / static_cast<double>(count - 1);
    const double y = top + chart_h - chart_h * std::max(value, 0.0) / y_max;
    return std::make_pair(x, y);
  };

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << px(width) << "\" height=\"" << px(height)
      << "\" viewBox=\"0 0 " << px(width) << " " << px(height) << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg << "<text x=\"10\" y=\"22\" font-size=\"16\" font-weight=\"bold\">" << xml(title) << "</text>\n";
  for (size_t i = 0; i < count; ++i) {
    const double x = left + kCellW * (static_cast<double>(i) + 0.5);
    svg << "<text x=\"" << px(x) << "\" y=\"" << px(top - 6) << "\" transform=\"rotate(-45 " << px(x) << " "
        << px(top - 6) << ")\">" << xml(labels[i]) << "</text>\n";
  }
  for (size_t t = 0; t < count; ++t) {
    const double y = top + kCellH * static_cast<double>(t);
    svg << "<text x=\"" << px(left - 6) << "\" y=\"" << px(y + kCellH / 2 + 4) << "\" text-anchor=\"end\">after "
        << xml(labels[t]) << "</text>\n";
    for (size_t i = 0; i < count; ++i) {
      if (!result.R[t][i]) continue;
      const double value = *result.R[t][i];
      const double x = left + kCellW * static_cast<double>(i);
      svg << "<rect class=\"cell\" x=\"" << px(x) << "\" y=\"" << px(y) << "\" width=\"" << px(kCellW) << "\" height=\""
          << px(kCellH) << "\" fill=\"" << heat_colour(value) << "\" stroke=\"#ffffff\"/>\n";
      svg << "<text x=\"" << px(x + kCellW / 2) << "\" y=\"" << px(y + kCellH / 2 + 4)
          << "\" text-anchor=\"middle\" font-size=\"11\" fill=\"" << (value < 60 ? "#ffffff" : "#000000") << "\">"
          << format("%.1f", value) << "</text>\n";
    }
  }
  // Axes with ticks at quarters of the score range and at every task.
  svg << "<g stroke=\"#000000\" fill=\"none\">\n";
  svg << "<line x1=\"" << px(chart_x) << "\" y1=\"" << px(top) << "\" x2=\"" << px(chart_x) << "\" y2=\""
      << px(top + chart_h) << "\"/>\n";
  svg << "<line x1=\"" << px(chart_x) << "\" y1=\"" << px(top + chart_h) << "\" x2=\"" << px(chart_x + chart_w)
      << "\" y2=\"" << px(top + chart_h) << "\"/>\n";
  svg << "</g>\n";
  for (int q = 0; q <= 4; ++q) {
    const double value = y_max * q / 4;
    const double y = chart_px(0, value).second;
    svg << "<text x=\"" << px(chart_x - 6) << "\" y=\"" << px(y + 4) << "\" text-anchor=\"end\">"
        << format("%.0f", value) << "</text>\n";
  }
  for (size_t t = 0; t < count; ++t) {
    svg << "<text x=\"" << px(chart_px(t, 0).first) << "\" y=\"" << px(top + chart_h + 16)
        << "\" text-anchor=\"middle\">" << t + 1 << "</text>\n";
  }
  svg << "<text x=\"" << px(chart_x + chart_w / 2) << "\" y=\"" << px(top + chart_h + 34)
      << "\" text-anchor=\"middle\">after task</text>\n";
  const double label_y = top + chart_h / 2;
  svg << "<text x=\"" << px(chart_x - 36) << "\" y=\"" << px(label_y)
      << "\" text-anchor=\"middle\" transform=\"rotate(-90 " << px(chart_x - 36) << " " << px(label_y)
      << ")\">score</text>\n";
  // One curve per task i: its score after each completed task t ≥ i.
  for (size_t i = 0; i < count; ++i) {
    std::string points;
    for (size_t t = i; t < completed; ++t) {
      if (!result.R[t][i]) continue;
      const auto [x, y] = chart_px(t, *result.R[t][i]);
      points += (points.empty() ? "" : " ") + px(x) + "," + px(y);
      svg << "<circle cx=\"" << px(x) << "\" cy=\"" << px(y) << "\" r=\"3\" fill=\"" << line_colour(i) << "\"/>\n";
    }
    if (!points.empty()) {
      svg << "<polyline points=\"" << points << "\" fill=\"none\" stroke=\"" << line_colour(i)
          << "\" stroke-width=\"2\"/>\n";
    }
    const double y = top + kLegendRow * static_cast<double>(i);
    svg << "<line x1=\"" << px(legend_x) << "\" y1=\"" << px(y + 8) << "\" x2=\"" << px(legend_x + 20) << "\" y2=\""
        << px(y + 8) << "\" stroke=\"" << line_colour(i) << "\" stroke-width=\"2\"/>\n";
    svg << "<text x=\"" << px(legend_x + 26) << "\" y=\"" << px(y + 12) << "\">" << xml(labels[i]) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace retain::eval
