#include "tools/report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace slabtrace {
namespace {

constexpr const char* kOkabeIto[] = {"#0072B2", "#E69F00", "#009E73",
                                     "#D55E00", "#CC79A7", "#56B4E9",
                                     "#000000", "#F0E442"};

// viridis at the centres of ten equal steps.
constexpr const char* kViridis[kOccupancyBuckets] = {
    "#482173", "#433e85", "#38588c", "#2d708e", "#25858e",
    "#1e9b8a", "#2ab07f", "#52c569", "#86d549", "#c2df23"};

constexpr const char* kEmptyCellColour = "#e3e3e3";
constexpr const char* kAxisColour = "#555555";
constexpr const char* kGridColour = "#e6e6e6";
constexpr const char* kMarkerColour = "#6b6b6b";

// Margins of the plot area inside a chart.
constexpr double kLeft = 76;
constexpr double kRight = 24;
constexpr double kTop = 56;  // legend row, then marker label rows
constexpr double kBottom = 46;

// A coordinate with one decimal, trailing ".0" dropped: short and stable.
std::string Coord(double v) {
  if (!std::isfinite(v)) v = 0;
  std::string s = absl::StrFormat("%.1f", v);
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0)
    s.resize(s.size() - 2);
  if (s == "-0") s = "0";
  return s;
}

// Up to `decimals` decimals, trailing zeros dropped (for cell heights).
std::string Short(double v, int decimals) {
  std::string s = absl::StrFormat("%.*f", decimals, v);
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  if (s.size() > 1 && s[0] == '0' && s[1] == '.') s.erase(0, 1);  // ".45"
  return s.empty() ? "0" : s;
}

double NiceStep(double raw) {
  if (!(raw > 0) || !std::isfinite(raw)) return 1;
  const double magnitude = std::pow(10, std::floor(std::log10(raw)));
  const double fraction = raw / magnitude;
  double nice = 10;
  if (fraction <= 1) {
    nice = 1;
  } else if (fraction <= 2) {
    nice = 2;
  } else if (fraction <= 2.5) {
    nice = 2.5;
  } else if (fraction <= 5) {
    nice = 5;
  }
  return nice * magnitude;
}

void ChooseUnit(double max_abs, Unit unit, AxisScale* scale) {
  switch (unit) {
    case Unit::kBytes: {
      static constexpr const char* kNames[] = {"B", "KiB", "MiB", "GiB", "TiB"};
      int i = 0;
      double divisor = 1;
      while (i < 4 && max_abs >= divisor * 1024) {
        divisor *= 1024;
        ++i;
      }
      scale->divisor = divisor;
      scale->suffix = kNames[i];
      return;
    }
    case Unit::kFraction:
      scale->divisor = 0.01;
      scale->suffix = "%";
      return;
    case Unit::kSeconds:
      if (max_abs > 0 && max_abs < 1) {
        scale->divisor = 0.001;
        scale->suffix = "ms";
      } else {
        scale->divisor = 1;
        scale->suffix = "s";
      }
      return;
    case Unit::kCount:
      if (max_abs >= 1e6) {
        scale->divisor = 1e6;
        scale->suffix = "M";
      } else if (max_abs >= 1e4) {
        scale->divisor = 1e3;
        scale->suffix = "k";
      } else {
        scale->divisor = 1;
        scale->suffix = "";
      }
      return;
  }
}

struct Frame {
  double left, top, width, height;
  double x0, x1, y0, y1;  // data ranges
  double X(double x) const {
    return left + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * width;
  }
  double Y(double y) const {
    return top + height - (y1 > y0 ? (y - y0) / (y1 - y0) : 0) * height;
  }
};

std::string OpenSvg(const std::string& id, const std::string& title, int width,
                    int height, const std::string& extra = "") {
  return absl::StrFormat(
      "<svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
      "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
      "aria-label=\"%s\"%s><title>%s</title>\n",
      HtmlEscape(id), width, height, width, height, HtmlEscape(title), extra,
      HtmlEscape(title));
}

// Horizontal grid lines with y tick labels, and the y axis title.
void AppendYAxis(const Frame& f, const AxisScale& scale,
                 const std::string& title, std::string* out) {
  for (double tick : scale.ticks) {
    const std::string y = Coord(f.Y(tick));
    absl::StrAppend(out, "<line x1=\"", Coord(f.left), "\" x2=\"",
                    Coord(f.left + f.width), "\" y1=\"", y, "\" y2=\"", y,
                    "\" stroke=\"", kGridColour, "\"/>", "<text x=\"",
                    Coord(f.left - 6), "\" y=\"", y,
                    "\" dy=\"0.32em\" text-anchor=\"end\" class=\"tick\">",
                    FormatTick(tick, scale), "</text>\n");
  }
  std::string label = HtmlEscape(title);
  if (!scale.suffix.empty()) absl::StrAppend(&label, " (", scale.suffix, ")");
  absl::StrAppend(
      out, "<text transform=\"translate(14 ", Coord(f.top + f.height / 2),
      ") rotate(-90)\" text-anchor=\"middle\" class=\"axis-title\">", label,
      "</text>\n");
}

void AppendXAxis(const Frame& f, const AxisScale& scale,
                 const std::string& title, std::string* out) {
  const std::string base = Coord(f.top + f.height);
  absl::StrAppend(out, "<line x1=\"", Coord(f.left), "\" x2=\"",
                  Coord(f.left + f.width), "\" y1=\"", base, "\" y2=\"", base,
                  "\" stroke=\"", kAxisColour, "\"/>\n");
  for (double tick : scale.ticks) {
    const std::string x = Coord(f.X(tick));
    absl::StrAppend(out, "<line x1=\"", x, "\" x2=\"", x, "\" y1=\"", base,
                    "\" y2=\"", Coord(f.top + f.height + 5), "\" stroke=\"",
                    kAxisColour, "\"/><text x=\"", x, "\" y=\"",
                    Coord(f.top + f.height + 18),
                    "\" text-anchor=\"middle\" class=\"tick\">",
                    FormatTick(tick, scale), "</text>\n");
  }
  std::string label = HtmlEscape(title);
  if (!scale.suffix.empty()) absl::StrAppend(&label, " (", scale.suffix, ")");
  absl::StrAppend(out, "<text x=\"", Coord(f.left + f.width / 2), "\" y=\"",
                  Coord(f.top + f.height + 38),
                  "\" text-anchor=\"middle\" class=\"axis-title\">", label,
                  "</text>\n");
}

// One legend row at the top: a swatch and the name of each series.
void AppendLegend(
    const std::vector<std::pair<std::string, std::string>>& names_and_colours,
    double left, std::string* out) {
  double x = left;
  for (const auto& [name, colour] : names_and_colours) {
    absl::StrAppend(out, "<g class=\"legend\"><rect x=\"", Coord(x),
                    "\" y=\"8\" width=\"14\" height=\"14\" rx=\"2\" fill=\"",
                    colour, "\"/><text x=\"", Coord(x + 19),
                    "\" y=\"15\" dy=\"0.32em\">", HtmlEscape(name),
                    "</text></g>\n");
    // Width estimate: ~7 px per character at the legend's font size.
    x += 19 + 7.2 * static_cast<double>(name.size()) + 22;
  }
}

// Marker lines with their labels staggered over three rows above the plot
// so that close markers do not overwrite each other; a label that still
// does not fit is left to the line's tooltip.
void AppendMarkers(const Frame& f, const std::vector<VerticalMarker>& markers,
                   std::string* out) {
  constexpr int kRows = 2;
  double row_end[kRows];
  std::fill(row_end, row_end + kRows, -1e9);
  for (const VerticalMarker& marker : markers) {
    if (!std::isfinite(marker.x) || marker.x < f.x0 || marker.x > f.x1) {
      continue;
    }
    const double x = f.X(marker.x);
    const std::string label = HtmlEscape(marker.label);
    absl::StrAppend(out, "<g class=\"marker\"><title>marker ", label,
                    "</title><line x1=\"", Coord(x), "\" x2=\"", Coord(x),
                    "\" y1=\"", Coord(f.top - 2), "\" y2=\"",
                    Coord(f.top + f.height), "\" stroke=\"", kMarkerColour,
                    "\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>");
    const double text_width = 6.6 * static_cast<double>(marker.label.size());
    for (int row = 0; row < kRows; ++row) {
      // Labels sit right of their line, or left when near the right edge.
      const bool left_side = x + 4 + text_width > f.left + f.width;
      const double start = left_side ? x - 4 - text_width : x + 4;
      if (start < row_end[row] + 6) continue;
      row_end[row] = start + text_width;
      absl::StrAppend(out, "<text x=\"", Coord(left_side ? x - 4 : x + 4),
                      "\" y=\"", Coord(f.top - 6 - 14 * (kRows - 1 - row)),
                      "\" text-anchor=\"", left_side ? "end" : "start",
                      "\" class=\"marker-label\">", label, "</text>");
      break;
    }
    absl::StrAppend(out, "</g>\n");
  }
}

// What a map cell looks like: 0 when empty, else colour bucket * 100 +
// height in twentieths (at least 1, so a non-empty cell shows a sliver).
int CellLook(double fill) {
  if (!(fill > 0)) return 0;
  fill = std::min(fill, 1.0);
  const int level = std::max(1, static_cast<int>(std::lround(fill * 20)));
  return OccupancyBucket(fill) * 100 + level;
}

void AppendNoData(const Frame& f, std::string* out) {
  absl::StrAppend(
      out, "<text x=\"", Coord(f.left + f.width / 2), "\" y=\"",
      Coord(f.top + f.height / 2),
      "\" text-anchor=\"middle\" class=\"no-data\">no data</text>\n");
}

}  // namespace

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

const char* SeriesColour(size_t i) {
  return kOkabeIto[i % (sizeof(kOkabeIto) / sizeof(kOkabeIto[0]))];
}

const char* OccupancyColour(int bucket) {
  return kViridis[std::clamp(bucket, 0, kOccupancyBuckets - 1)];
}

int OccupancyBucket(double fraction) {
  if (!(fraction > 0)) return 0;
  return std::min(kOccupancyBuckets - 1,
                  static_cast<int>(fraction * kOccupancyBuckets));
}

std::string FormatQuantity(double value, Unit unit) {
  if (!std::isfinite(value)) return "n/a";
  switch (unit) {
    case Unit::kBytes: {
      AxisScale scale;
      ChooseUnit(std::fabs(value), unit, &scale);
      if (scale.divisor == 1) return absl::StrFormat("%.0f B", value);
      return absl::StrFormat("%.1f %s", value / scale.divisor, scale.suffix);
    }
    case Unit::kFraction:
      return absl::StrFormat("%.1f %%", value * 100);
    case Unit::kSeconds:
      if (std::fabs(value) < 1) return absl::StrFormat("%.1f ms", value * 1e3);
      return absl::StrFormat("%.2f s", value);
    case Unit::kCount: {
      // Thousands separators, for counts people compare digit by digit.
      const bool negative = value < 0;
      std::string digits = absl::StrFormat("%.0f", std::fabs(value));
      std::string out;
      for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
      }
      return negative ? "-" + out : out;
    }
  }
  return "";
}

AxisScale MakeAxisScale(double min, double max, Unit unit, int target_ticks) {
  AxisScale scale;
  if (!std::isfinite(min) || !std::isfinite(max)) {
    min = 0;
    max = 1;
  }
  if (max < min) std::swap(min, max);
  if (max == min)
    max = min + (unit == Unit::kFraction ? 1 : std::max(1.0, std::fabs(min)));
  ChooseUnit(std::max(std::fabs(min), std::fabs(max)), unit, &scale);
  const double lo = min / scale.divisor;
  const double hi = max / scale.divisor;
  const double step = NiceStep((hi - lo) / std::max(1, target_ticks));
  const double first = std::floor(lo / step) * step;
  const double last = std::ceil(hi / step) * step;
  scale.min = first * scale.divisor;
  scale.max = last * scale.divisor;
  for (int i = 0;; ++i) {
    const double tick = first + i * step;
    if (tick > last + step * 1e-9 || i > 100) break;
    scale.ticks.push_back(tick * scale.divisor);
  }
  const double exponent = std::floor(std::log10(step) + 1e-12);
  // A step of 2.5 x 10^k needs one more digit than 10^k (7.5, 0.25).
  const bool two_and_a_half =
      std::fabs(step / std::pow(10, exponent) - 2.5) < 1e-9;
  scale.decimals = static_cast<int>(
      std::clamp(-exponent + (two_and_a_half ? 1 : 0), 0.0, 6.0));
  return scale;
}

std::string FormatTick(double value, const AxisScale& scale) {
  const double v = value / scale.divisor;
  std::string s = absl::StrFormat("%.*f", scale.decimals, v);
  if (s == "-0" || s.find_first_not_of("-0.") == std::string::npos) {
    s = absl::StrFormat("%.*f", scale.decimals, 0.0);
  }
  return s;
}

std::vector<size_t> DownsampleMinMax(absl::Span<const double> y,
                                     size_t max_points) {
  std::vector<size_t> keep;
  const size_t n = y.size();
  if (n <= max_points) {
    keep.resize(n);
    for (size_t i = 0; i < n; ++i) keep[i] = i;
    return keep;
  }
  const size_t buckets = std::max<size_t>(1, max_points / 2);
  keep.reserve(max_points + 2);
  for (size_t b = 0; b < buckets; ++b) {
    const size_t begin = b * n / buckets;
    const size_t end = (b + 1) * n / buckets;
    size_t lo = end, hi = end, gap = end;
    for (size_t i = begin; i < end; ++i) {
      if (std::isnan(y[i])) {
        if (gap == end) gap = i;
        continue;
      }
      if (lo == end || y[i] < y[lo]) lo = i;
      if (hi == end || y[i] > y[hi]) hi = i;
    }
    size_t picked[3] = {lo, hi, gap};
    std::sort(picked, picked + 3);
    for (size_t i : picked) {
      if (i != end && (keep.empty() || keep.back() != i)) keep.push_back(i);
    }
  }
  if (keep.empty() || keep.front() != 0) keep.insert(keep.begin(), 0);
  if (keep.back() != n - 1) keep.push_back(n - 1);
  return keep;
}

std::string RenderLineChart(const LineChartSpec& spec) {
  std::string out = OpenSvg(spec.id, spec.title, spec.width, spec.height);
  double x_min = std::numeric_limits<double>::infinity();
  double x_max = -x_min;
  double y_max = 0;
  bool any = false;
  for (const LineSeries& s : spec.series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      x_min = std::min(x_min, s.x[i]);
      x_max = std::max(x_max, s.x[i]);
      if (std::isfinite(s.y[i])) {
        y_max = std::max(y_max, s.y[i]);
        any = true;
      }
    }
  }
  for (const VerticalMarker& m : spec.markers) {
    x_min = std::min(x_min, m.x);
    x_max = std::max(x_max, m.x);
  }
  if (!std::isfinite(x_min)) {
    x_min = 0;
    x_max = 1;
  }
  x_min = spec.x_min.value_or(x_min);
  x_max = spec.x_max.value_or(x_max);
  const AxisScale xs = MakeAxisScale(x_min, x_max, spec.x_unit, 8);
  const AxisScale ys = MakeAxisScale(spec.y_min.value_or(0),
                                     spec.y_max.value_or(y_max), spec.y_unit);
  Frame f{kLeft,
          kTop,
          spec.width - kLeft - kRight,
          spec.height - kTop - kBottom,
          xs.min,
          xs.max,
          ys.min,
          ys.max};
  // With few sweeps the line would hide where the data points are.
  if (x_max > x_min) {
    f.x0 = x_min;
    f.x1 = x_max;
  }
  AxisScale x_ticks = xs;
  x_ticks.ticks.erase(
      std::remove_if(x_ticks.ticks.begin(), x_ticks.ticks.end(),
                     [&](double t) {
                       return t < f.x0 - 1e-12 * std::fabs(f.x1) ||
                              t > f.x1 + 1e-12 * std::fabs(f.x1);
                     }),
      x_ticks.ticks.end());
  AppendYAxis(f, ys, spec.y_title, &out);
  AppendXAxis(f, x_ticks, spec.x_title, &out);
  std::vector<std::pair<std::string, std::string>> legend;
  for (const LineSeries& s : spec.series) legend.emplace_back(s.name, s.colour);
  AppendLegend(legend, f.left, &out);
  if (!any) AppendNoData(f, &out);
  AppendMarkers(f, spec.markers, &out);

  for (const LineSeries& s : spec.series) {
    const size_t n = std::min(s.x.size(), s.y.size());
    const std::vector<size_t> keep = DownsampleMinMax(
        absl::MakeConstSpan(s.y.data(), n), spec.max_points_per_series);
    std::string d;
    d.reserve(keep.size() * 12);
    bool pen_down = false;
    size_t drawn = 0;
    double previous_x = f.x0;
    for (size_t i : keep) {
      if (!std::isfinite(s.y[i])) {
        pen_down = false;
        previous_x = s.x[i];
        continue;
      }
      const std::string y = Coord(f.Y(s.y[i]));
      if (s.step_before) {
        // From the end of the previous window to this point, at this value.
        absl::StrAppend(&d, pen_down ? "V" : "M",
                        pen_down ? "" : Coord(f.X(previous_x)),
                        pen_down ? "" : " ", y, "H", Coord(f.X(s.x[i])));
        previous_x = s.x[i];
      } else {
        absl::StrAppend(&d, pen_down ? "L" : "M", Coord(f.X(s.x[i])), " ", y);
      }
      pen_down = true;
      ++drawn;
    }
    absl::StrAppend(&out, "<g class=\"series\"><title>", HtmlEscape(s.name),
                    "</title>");
    if (!d.empty()) {
      absl::StrAppend(&out, "<path d=\"", d, "\" fill=\"none\" stroke=\"",
                      s.colour, "\" stroke-width=\"", Coord(s.width), "\"",
                      s.dashed ? " stroke-dasharray=\"7 4\"" : "",
                      " stroke-linejoin=\"round\"/>");
    }
    // Dots show where the sweeps are when there are few of them.
    if (drawn <= 60) {
      for (size_t i : keep) {
        if (!std::isfinite(s.y[i])) continue;
        absl::StrAppend(&out, "<circle cx=\"", Coord(f.X(s.x[i])), "\" cy=\"",
                        Coord(f.Y(s.y[i])), "\" r=\"3.2\" fill=\"", s.colour,
                        "\"/>");
      }
    }
    absl::StrAppend(&out, "</g>\n");
  }
  absl::StrAppend(&out, "</svg>\n");
  return out;
}

std::string RenderBarChart(const BarChartSpec& spec) {
  std::string out = OpenSvg(spec.id, spec.title, spec.width, spec.height);
  double y_max = 0;
  for (const BarSeries& s : spec.series) {
    for (double v : s.values) {
      if (std::isfinite(v)) y_max = std::max(y_max, v);
    }
  }
  const AxisScale ys = MakeAxisScale(0, y_max, spec.y_unit);
  const Frame f{kLeft,
                kTop - 16,
                spec.width - kLeft - kRight,
                spec.height - (kTop - 16) - kBottom,
                0,
                1,
                ys.min,
                ys.max};
  AppendYAxis(f, ys, spec.y_title, &out);
  std::vector<std::pair<std::string, std::string>> legend;
  for (const BarSeries& s : spec.series) legend.emplace_back(s.name, s.colour);
  AppendLegend(legend, f.left, &out);

  const size_t categories = spec.categories.size();
  const std::string base = Coord(f.top + f.height);
  absl::StrAppend(&out, "<line x1=\"", Coord(f.left), "\" x2=\"",
                  Coord(f.left + f.width), "\" y1=\"", base, "\" y2=\"", base,
                  "\" stroke=\"", kAxisColour, "\"/>\n");
  if (categories == 0 || spec.series.empty() || y_max <= 0) {
    AppendNoData(f, &out);
  }
  const double slot = categories ? f.width / categories : f.width;
  const double bar = slot * 0.8 / std::max<size_t>(1, spec.series.size());
  for (size_t c = 0; c < categories; ++c) {
    const double slot_left = f.left + c * slot;
    absl::StrAppend(&out, "<text x=\"", Coord(slot_left + slot / 2), "\" y=\"",
                    Coord(f.top + f.height + 18),
                    "\" text-anchor=\"middle\" class=\"tick\">",
                    HtmlEscape(spec.categories[c]), "</text>\n");
    for (size_t s = 0; s < spec.series.size(); ++s) {
      const BarSeries& series = spec.series[s];
      const double v = c < series.values.size() ? series.values[c] : 0;
      if (!(v > 0)) continue;
      const double top = f.Y(v);
      absl::StrAppend(
          &out, "<rect x=\"", Coord(slot_left + slot * 0.1 + s * bar),
          "\" y=\"", Coord(top), "\" width=\"", Coord(std::max(1.0, bar - 1)),
          "\" height=\"", Coord(std::max(0.5, f.top + f.height - top)),
          "\" fill=\"", series.colour, "\"><title>", HtmlEscape(series.name),
          ", ", HtmlEscape(spec.categories[c]), ": ",
          FormatQuantity(v, spec.y_unit), "</title></rect>\n");
    }
  }
  absl::StrAppend(&out, "<text x=\"", Coord(f.left + f.width / 2), "\" y=\"",
                  Coord(f.top + f.height + 38),
                  "\" text-anchor=\"middle\" class=\"axis-title\">",
                  HtmlEscape(spec.x_title), "</text>\n</svg>\n");
  return out;
}

std::string RenderCellMap(const CellMapSpec& spec) {
  const size_t cells = spec.fill.size();
  const int columns = std::max(1, spec.columns);
  const size_t rows = std::max<size_t>(1, (cells + columns - 1) / columns);
  const int width = static_cast<int>(std::ceil(columns * spec.cell_px));
  const int height = static_cast<int>(std::ceil(rows * spec.cell_px));
  // Drawn in cell units (a cell is 1 x 1) and scaled by the viewBox.
  std::string out = absl::StrFormat(
      "<svg id=\"%s\" class=\"cellmap\" xmlns=\"http://www.w3.org/2000/svg\" "
      "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
      "preserveAspectRatio=\"none\" role=\"img\" aria-label=\"%s\" "
      "data-columns=\"%d\" data-cells=\"%s\"%s><title>%s</title>\n",
      HtmlEscape(spec.id), columns, rows, width, height, HtmlEscape(spec.title),
      columns, EncodeCellFill(spec.fill), spec.extra_attributes,
      HtmlEscape(spec.title));
  if (cells == 0) {
    absl::StrAppend(&out, "</svg>\n");
    return out;
  }
  // Background of every cell: full rows, then the partial last row.
  const size_t full_rows = cells / columns;
  const size_t rest = cells % columns;
  std::string bg;
  if (full_rows > 0) {
    absl::StrAppend(&bg, "M0 0h", columns, "v", full_rows, "h-", columns, "z");
  }
  if (rest > 0) {
    absl::StrAppend(&bg, "M0 ", full_rows, "h", rest, "v1h-", rest, "z");
  }
  absl::StrAppend(&out, "<path d=\"", bg, "\" fill=\"", kEmptyCellColour,
                  "\"/>\n");
  // One path per colour. A cell is filled from its bottom to its fill
  // (quantised to 5 %); a run of equal cells in a row is one rectangle,
  // which keeps uniform maps ("every slab half full") tiny.
  std::vector<std::string> paths(kOccupancyBuckets);
  for (size_t row = 0; row < rows; ++row) {
    size_t col = 0;
    const size_t row_cells = std::min<size_t>(columns, cells - row * columns);
    while (col < row_cells) {
      const double fill = spec.fill[row * columns + col];
      const int look = CellLook(fill);
      size_t run = 1;
      while (col + run < row_cells &&
             CellLook(spec.fill[row * columns + col + run]) == look) {
        ++run;
      }
      if (look > 0) {
        const double h = (look % 100) / 20.0;
        absl::StrAppend(&paths[look / 100], "M", col, " ",
                        Short(row + 1 - h, 2), "h", run, "v", Short(h, 2), "h-",
                        run, "z");
      }
      col += run;
    }
  }
  for (int b = 0; b < kOccupancyBuckets; ++b) {
    if (paths[b].empty()) continue;
    absl::StrAppend(&out, "<path d=\"", paths[b], "\" fill=\"",
                    OccupancyColour(b), "\"/>\n");
  }
  // Thin white lines between cells when cells are big enough to tell apart.
  if (spec.cell_px >= 5) {
    const std::string id = HtmlEscape(spec.id) + "-grid";
    const double line = 1.0 / spec.cell_px;
    absl::StrAppend(
        &out, "<defs><pattern id=\"", id,
        "\" width=\"1\" height=\"1\" patternUnits=\"userSpaceOnUse\"><path "
        "d=\"M0 0h1v",
        Short(line, 3), "h-1zM0 0h", Short(line, 3), "v1h-", Short(line, 3),
        "z\" fill=\"#fff\"/></pattern></defs><rect width=\"", columns,
        "\" height=\"", rows, "\" fill=\"url(#", id, ")\"/>\n");
  }
  absl::StrAppend(&out, "</svg>\n");
  return out;
}

std::string EncodeCellFill(absl::Span<const double> fill) {
  std::string out(fill.size(), 'A');
  for (size_t i = 0; i < fill.size(); ++i) {
    const double f = std::isfinite(fill[i]) ? std::clamp(fill[i], 0.0, 1.0) : 0;
    out[i] = static_cast<char>('A' + std::lround(f * 20));
  }
  return out;
}

}  // namespace slabtrace
