// servebench — self-contained SVG charts: grouped bars (throughput per level with speedup labels), lines (mean and
// p95 latency per level), a TTFT/TPOT pair of panels, and latency CDFs from raw samples.
//
// Charts are plain data; render_* are free functions returning the SVG text. The SVG has no scripts, no CSS and no
// external fonts or images (system sans-serif fonts only), a white background and dark text of at least 11px, so it
// reads the same in a browser, an image viewer and on paper. Values must be finite and >= 0 (throughput, latency
// and times are never negative); anything else throws std::invalid_argument naming the series and index.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "artifact.hpp"

namespace servebench {
namespace chart {

// One named series. `color` empty: the lab's colours for series named like the engines (a name starting with "hf"
// or containing "hugging" -> '#ff6b6b', containing "vllm" -> '#4ecdc4', case-insensitive), else a palette colour
// in order of appearance. `dashed` draws a line series dashed (e.g. p95 beside a solid mean); bars ignore it.
struct Series {
  std::string name;
  std::vector<double> values;
  std::string color;
  bool dashed = false;
};

// Grouped bars: one group per category, one bar per series (values[i] belongs to categories[i]).
struct BarChart {
  std::string title, subtitle, x_label, y_label;
  std::vector<std::string> categories;
  std::vector<Series> series;
  bool value_labels = true;    // the value above each bar (skipped when bars are too narrow to hold it)
  // With >= 2 series: the last/first ratio per group ("6.6x"), over the last bar as the lab places it and higher
  // than every bar and value label of its group; none where the first value is 0.
  bool speedup_labels = true;
  int width = 800, height = 500;
};

// Lines over categorical x positions (e.g. concurrency levels), y from 0.
struct LineChart {
  std::string title, subtitle, x_label, y_label;
  std::vector<std::string> categories;
  std::vector<Series> series;
  bool markers = true;
  int width = 800, height = 500;
};

// Time to first token and time per output token side by side, as lines per category; one shared legend.
struct TtftTpotChart {
  std::string title, subtitle;
  std::string x_label = "concurrent requests";
  std::string unit = "ms";  // shown in both y-axis labels; values are taken to be in this unit already
  std::vector<std::string> categories;
  std::vector<Series> ttft;
  std::vector<Series> tpot;
  bool markers = true;
  int width = 800, height = 500;
};

// Empirical CDF per series from raw samples (values = one sample each, any order); dashed guides at p50 and p95.
struct CdfChart {
  std::string title, subtitle;
  std::string x_label = "latency (s)";
  std::string y_label = "fraction of requests";
  std::vector<Series> series;
  int width = 800, height = 500;
};

// Round axis ticks covering [lo, hi]: step is 1, 2 or 5 times a power of ten, the smallest such step that needs at
// most `max_ticks` ticks when lo is a multiple of it; first tick <= lo, last tick >= hi. lo == hi widens the range
// (0..1 for 0; v..v becomes v/2..3v/2). Throws std::invalid_argument for non-finite bounds, lo > hi or max_ticks < 2.
inline std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 7);

// A tick value printed with as many decimals as the step needs ("0", "0.5", "0.25"), never "-0".
inline std::string format_tick(double value, double step);

inline std::string render_grouped_bars(const BarChart& chart);
inline std::string render_lines(const LineChart& chart);
inline std::string render_ttft_tpot(const TtftTpotChart& chart);
inline std::string render_cdf(const CdfChart& chart);

// Writes a rendered chart atomically (temporary file, fsync, rename; parent directories created), so a viewer
// never sees half a chart. Throws std::runtime_error naming the path.
inline void write_svg(const std::string& path, const std::string& svg) { write_file_atomic(path, svg); }

// The default colour for a series name ("" when the name does not match an engine, i.e. the palette applies).
inline std::string lab_color_for(const std::string& series_name);

// XML text/attribute escaping (& < > " '); control characters XML 1.0 forbids and invalid UTF-8 become '?'.
inline std::string xml_escape(const std::string& text);

namespace detail {

inline const std::vector<std::string>& palette() {
  // Tableau-10-like: distinct in colour and in lightness, so series stay apart on a grey-scale printout.
  static const std::vector<std::string> colors = {"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1",
                                                  "#9c755f", "#e15759", "#76b7b2", "#edc948"};
  return colors;
}

inline std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

inline std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

// Coordinates with one decimal: enough for a crisp 800x500 picture, small files.
inline std::string num(double v) {
  std::string s = fmt("%.1f", v);
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  if (s == "-0") s = "0";
  return s;
}

// Bar and guide values: 3 significant-ish digits without trailing noise.
inline std::string format_value(double v) {
  const double a = std::fabs(v);
  if (a >= 100 || v == std::floor(v)) return fmt("%.0f", v);
  if (a >= 10) return fmt("%.1f", v);
  if (a >= 0.01) return fmt("%.2f", v);
  return fmt("%.3g", v);
}

// Rough advance width of text in a sans-serif font (DejaVu Sans averages ~0.6em); used only for layout decisions.
inline double text_width(const std::string& s, double font_px) {
  std::size_t chars = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++chars;  // count UTF-8 code points, not bytes
  return static_cast<double>(chars) * font_px * 0.6;
}

// Shortens text to fit `max_px`, ending it with an ellipsis.
inline std::string fit_text(const std::string& s, double font_px, double max_px) {
  if (text_width(s, font_px) <= max_px) return s;
  std::string out = s;
  while (!out.empty() && text_width(out + "...", font_px) > max_px) {
    out.pop_back();
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0xC0) out.pop_back();
  }
  return out + "...";
}

inline void check_size(int width, int height) {
  if (width < 320 || height < 240 || width > 10000 || height > 10000)
    throw std::invalid_argument("chart size must be between 320x240 and 10000x10000, got " +
                                std::to_string(width) + "x" + std::to_string(height));
}

inline void check_values(const Series& s, const char* what) {
  for (std::size_t i = 0; i < s.values.size(); ++i) {
    const double v = s.values[i];
    if (!std::isfinite(v) || v < 0)
      throw std::invalid_argument(std::string(what) + ": series '" + s.name + "' value " + std::to_string(i) +
                                  " is " + (std::isnan(v) ? std::string("NaN") : std::to_string(v)) +
                                  "; chart values must be finite and >= 0");
  }
}

inline void check_category_series(const std::vector<std::string>& categories, const std::vector<Series>& series,
                                   const char* what) {
  for (const Series& s : series) {
    if (s.values.size() != categories.size())
      throw std::invalid_argument(std::string(what) + ": series '" + s.name + "' has " +
                                  std::to_string(s.values.size()) + " values for " +
                                  std::to_string(categories.size()) + " categories");
    check_values(s, what);
  }
}

// Resolved drawing style of one legend entry.
struct Style {
  std::string name, color;
  bool dashed = false;
};

// Explicit colour, else the lab's engine colour, else the next palette colour not already taken.
inline std::vector<Style> resolve_styles(const std::vector<const Series*>& series) {
  std::vector<Style> out;
  std::size_t next = 0;
  for (const Series* s : series) {
    std::string color = s->color.empty() ? lab_color_for(s->name) : s->color;
    if (color.empty()) color = palette()[next++ % palette().size()];
    out.push_back({s->name, color, s->dashed});
  }
  return out;
}

struct Rect {
  double left, top, right, bottom;
  double width() const { return right - left; }
  double height() const { return bottom - top; }
};

// Builds the SVG document; every text goes through xml_escape here, so no caller can forget it.
class Svg {
 public:
  Svg(int width, int height, const std::string& title) : width_(width), height_(height) {
    out_ += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out_ += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + std::to_string(width) +
            "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " +
            std::to_string(height) +
            "\" font-family=\"DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif\" fill=\"#222222\">\n";
    out_ += "<title>" + xml_escape(title) + "</title>\n";
    out_ += "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(width) + "\" height=\"" + std::to_string(height) +
            "\" fill=\"#ffffff\"/>\n";
  }
  int width() const { return width_; }
  int height() const { return height_; }

  void text(double x, double y, const std::string& s, double size, const char* anchor = "start",
            bool bold = false, const char* fill = "#222222", double rotate = 0) {
    out_ += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(size) + "\" text-anchor=\"" +
            anchor + "\"";
    if (bold) out_ += " font-weight=\"bold\"";
    if (std::string(fill) != "#222222") out_ += std::string(" fill=\"") + fill + "\"";
    if (rotate != 0) out_ += " transform=\"rotate(" + num(rotate) + " " + num(x) + " " + num(y) + ")\"";
    out_ += ">" + xml_escape(s) + "</text>\n";
  }
  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double width,
            bool dashed = false) {
    out_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" + num(y2) +
            "\" stroke=\"" + xml_escape(stroke) + "\" stroke-width=\"" + num(width) + "\"" +
            (dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>\n";
  }
  void rect(double x, double y, double w, double h, const std::string& fill) {
    out_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" + num(h) +
            "\" fill=\"" + xml_escape(fill) + "\"/>\n";
  }
  void circle(double x, double y, double r, const std::string& fill) {
    out_ += "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"" + num(r) + "\" fill=\"" +
            xml_escape(fill) + "\" stroke=\"#ffffff\" stroke-width=\"1.5\"/>\n";
  }
  void polyline(const std::vector<std::pair<double, double>>& points, const std::string& stroke, bool dashed) {
    out_ += "<polyline fill=\"none\" stroke=\"" + xml_escape(stroke) +
            "\" stroke-width=\"2.5\" stroke-linejoin=\"round\"" +
            (dashed ? std::string(" stroke-dasharray=\"8 5\"") : std::string()) + " points=\"";
    for (std::size_t i = 0; i < points.size(); ++i)
      out_ += (i ? " " : "") + num(points[i].first) + "," + num(points[i].second);
    out_ += "\"/>\n";
  }
  std::string finish() {
    out_ += "</svg>\n";
    return std::move(out_);
  }

 private:
  int width_, height_;
  std::string out_;
};

enum class Swatch { box, line };

// Title, subtitle and a legend row (wrapping if needed); returns the y where the plot area may start.
inline double draw_header(Svg& svg, const std::string& title, const std::string& subtitle,
                          const std::vector<Style>& legend, Swatch swatch, bool markers) {
  const double max_w = svg.width() - 32.0;
  double y = 30;
  if (!title.empty()) {
    double size = 18;
    const double title_w = max_w / 1.1;  // bold glyphs run about 10% wider than text_width's estimate
    while (size > 13 && text_width(title, size) > title_w) size -= 1;  // shrink long titles before cutting them
    svg.text(svg.width() / 2.0, y, fit_text(title, size, title_w), size, "middle", true, "#111111");
    y += 22;
  }
  if (!subtitle.empty()) {
    svg.text(svg.width() / 2.0, y - 2, fit_text(subtitle, 13, max_w), 13, "middle", false, "#444444");
    y += 20;
  }
  if (legend.empty()) return y + 4;
  // Lay entries out in rows, each row centred.
  const double font = 12, swatch_w = swatch == Swatch::box ? 12 : 26, gap = 20;
  std::vector<std::vector<std::pair<std::size_t, double>>> rows(1);
  double row_w = 0;
  for (std::size_t i = 0; i < legend.size(); ++i) {
    const std::string label = fit_text(legend[i].name.empty() ? "(unnamed)" : legend[i].name, font, max_w / 2);
    const double w = swatch_w + 6 + text_width(label, font);
    if (!rows.back().empty() && row_w + gap + w > max_w) {
      rows.emplace_back();
      row_w = 0;
    }
    row_w += (rows.back().empty() ? 0 : gap) + w;
    rows.back().push_back({i, w});
  }
  y += 4;
  for (const auto& row : rows) {
    double total = 0;
    for (const auto& e : row) total += e.second;
    total += gap * static_cast<double>(row.size() - 1);
    double x = (svg.width() - total) / 2.0;
    for (const auto& e : row) {
      const Style& s = legend[e.first];
      if (swatch == Swatch::box) {
        svg.rect(x, y - 10, 12, 12, s.color);
      } else {
        svg.line(x, y - 4, x + swatch_w, y - 4, s.color, 2.5, s.dashed);
        if (markers) svg.circle(x + swatch_w / 2, y - 4, 3.5, s.color);
      }
      svg.text(x + swatch_w + 6, y, fit_text(s.name.empty() ? "(unnamed)" : s.name, font, max_w / 2), font);
      x += e.second + gap;
    }
    y += 18;
  }
  return y + 4;
}

// Vertical axis: gridlines, tick labels and the rotated axis label; ticks span plot.top..plot.bottom.
inline void draw_y_axis(Svg& svg, const Rect& plot, const std::vector<double>& ticks, const std::string& label,
                        bool percent = false) {
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  const double lo = ticks.front(), hi = ticks.back();
  for (double t : ticks) {
    const double y = plot.bottom - (t - lo) / (hi - lo) * plot.height();
    if (t != lo) svg.line(plot.left, y, plot.right, y, "#e3e3e3", 1);
    const std::string text = percent ? format_tick(t * 100, step * 100) + "%" : format_tick(t, step);
    svg.text(plot.left - 8, y + 4, text, 12, "end");
  }
  svg.line(plot.left, plot.top, plot.left, plot.bottom, "#444444", 1);
  if (!label.empty()) {
    const double x = 18, y = (plot.top + plot.bottom) / 2;
    svg.text(x, y, fit_text(label, 13, plot.height()), 13, "middle", false, "#222222", -90);
  }
}

inline double y_tick_label_width(const std::vector<double>& ticks, bool percent = false) {
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  double w = 0;
  for (double t : ticks)
    w = std::max(w, text_width(percent ? format_tick(t * 100, step * 100) + "%" : format_tick(t, step), 12));
  return w;
}

// Categorical horizontal axis; labels are rotated when they do not fit their slot. Returns the extra height the
// rotated labels need (0 when horizontal) — callers lay out with label_room() first.
inline double category_label_room(const std::vector<std::string>& categories, double slot_w) {
  double widest = 0;
  for (const auto& c : categories) widest = std::max(widest, text_width(c, 12));
  if (widest <= slot_w - 4) return 0;
  return std::min(widest, 160.0) * 0.5;  // sin(30 deg): height of a label rotated by -30 degrees
}

inline void draw_x_categories(Svg& svg, const Rect& plot, const std::vector<std::string>& categories,
                              const std::string& label, double rotated_room) {
  const double slot = plot.width() / static_cast<double>(categories.size());
  svg.line(plot.left, plot.bottom, plot.right, plot.bottom, "#444444", 1);
  for (std::size_t i = 0; i < categories.size(); ++i) {
    const double x = plot.left + slot * (static_cast<double>(i) + 0.5);
    svg.line(x, plot.bottom, x, plot.bottom + 4, "#444444", 1);
    if (rotated_room > 0)
      svg.text(x + 4, plot.bottom + 16, fit_text(categories[i], 12, 160), 12, "end", false, "#222222", -30);
    else
      svg.text(x, plot.bottom + 18, categories[i], 12, "middle");
  }
  if (!label.empty())
    svg.text((plot.left + plot.right) / 2, plot.bottom + 40 + rotated_room, fit_text(label, 13, plot.width()), 13,
             "middle");
}

// An empty chart still shows its frame, so it reads as "nothing measured" rather than as a broken picture.
inline std::string no_data(Svg& svg, double top) {
  const double left = 40, right = svg.width() - 40.0, bottom = svg.height() - 40.0;
  svg.line(left, top, right, top, "#bbbbbb", 1, true);
  svg.line(left, bottom, right, bottom, "#bbbbbb", 1, true);
  svg.line(left, top, left, bottom, "#bbbbbb", 1, true);
  svg.line(right, top, right, bottom, "#bbbbbb", 1, true);
  svg.text(svg.width() / 2.0, (top + bottom) / 2.0 + 8, "No data", 22, "middle", true, "#555555");
  return svg.finish();
}

inline std::vector<const Series*> pointers(const std::vector<Series>& series) {
  std::vector<const Series*> out;
  for (const Series& s : series) out.push_back(&s);
  return out;
}

inline double max_value(const std::vector<Series>& series) {
  double m = 0;
  for (const Series& s : series)
    for (double v : s.values) m = std::max(m, v);
  return m;
}

// Ticks from 0 whose top leaves `headroom_px` above `max` in a plot `plot_h` tall (room for value labels).
inline std::vector<double> zero_based_ticks(double max, double headroom_px, double plot_h) {
  const double fraction = std::min(0.5, headroom_px / std::max(plot_h, 1.0));
  return nice_ticks(0, max / (1 - fraction));
}

// Draws line series over categorical slots inside `plot` (ticks give the y range).
inline void draw_line_series(Svg& svg, const Rect& plot, const std::vector<double>& ticks,
                             const std::vector<Series>& series, const std::vector<Style>& styles,
                             std::size_t first_style, bool markers) {
  const double lo = ticks.front(), hi = ticks.back();
  for (std::size_t s = 0; s < series.size(); ++s) {
    const Style& style = styles[first_style + s];
    const std::size_t n = series[s].values.size();
    const double slot = plot.width() / static_cast<double>(n);
    std::vector<std::pair<double, double>> points;
    for (std::size_t i = 0; i < n; ++i)
      points.push_back({plot.left + slot * (static_cast<double>(i) + 0.5),
                        plot.bottom - (series[s].values[i] - lo) / (hi - lo) * plot.height()});
    if (points.size() > 1) svg.polyline(points, style.color, style.dashed);
    if (markers || points.size() == 1)
      for (const auto& p : points) svg.circle(p.first, p.second, 4, style.color);
  }
}

// Legend entries by name: series sharing a name (TTFT and TPOT panels) share one entry and one colour.
inline std::vector<Style> merged_styles(const std::vector<const Series*>& all) {
  std::vector<const Series*> unique;
  for (const Series* s : all) {
    bool seen = false;
    for (const Series* u : unique) seen = seen || u->name == s->name;
    if (!seen) unique.push_back(s);
  }
  return resolve_styles(unique);
}

inline std::vector<Style> styles_for(const std::vector<Series>& series, const std::vector<Style>& legend) {
  std::vector<Style> out;
  for (const Series& s : series)
    for (const Style& l : legend)
      if (l.name == s.name) {
        out.push_back(l);
        break;
      }
  return out;
}

}  // namespace detail

inline std::string lab_color_for(const std::string& series_name) {
  const std::string n = detail::lower(series_name);
  if (n.rfind("hf", 0) == 0 || n.find("hugging") != std::string::npos) return "#ff6b6b";
  if (n.find("vllm") != std::string::npos) return "#4ecdc4";
  return "";
}

inline std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default: out += (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ? '?' : static_cast<char>(c);
      }
      ++i;
      continue;
    }
    // Copy a well-formed UTF-8 sequence whole; a stray byte would make the document unparseable.
    std::size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool ok = len != 0 && i + len <= text.size();
    for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    if (ok && len == 2) ok = c >= 0xC2;  // overlong encodings
    if (ok && len == 3) {
      const unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);  // overlong, UTF-16 surrogates
      if (ok && c == 0xEF && c1 == 0xBF) ok = static_cast<unsigned char>(text[i + 2]) < 0xBE;  // U+FFFE/FFFF
    }
    if (ok && len == 4) {
      const unsigned char c1 = static_cast<unsigned char>(text[i + 1]);
      ok = c <= 0xF4 && !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
    }
    if (ok) {
      out.append(text, i, len);
      i += len;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

inline std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) throw std::invalid_argument("nice_ticks: bounds must be finite");
  if (lo > hi) throw std::invalid_argument("nice_ticks: lo must not exceed hi");
  if (max_ticks < 2) throw std::invalid_argument("nice_ticks: max_ticks must be at least 2");
  if (lo == hi) {
    if (lo == 0) {
      hi = 1;
    } else {
      const double pad = std::fabs(lo) * 0.5;
      lo -= pad;
      hi += pad;
    }
  }
  // Smallest 1/2/5 x 10^k step such that the floor/ceil-aligned range needs at most max_ticks ticks.
  const double raw = (hi - lo) / static_cast<double>(max_ticks - 1);
  double step = std::pow(10.0, std::floor(std::log10(raw)));
  const double mults[] = {1, 2, 5, 10, 20, 50, 100};
  double chosen = step * 100;
  double first = 0, last = 0;
  for (double m : mults) {
    const double s = step * m;
    // Small tolerance so 0.30000000000000004 / 0.1 does not become 4 intervals.
    const double f = std::floor(lo / s + 1e-9), l = std::ceil(hi / s - 1e-9);
    if (l - f + 1 <= max_ticks) {
      chosen = s;
      first = f;
      last = l;
      break;
    }
  }
  if (chosen == step * 100) {
    first = std::floor(lo / chosen + 1e-9);
    last = std::ceil(hi / chosen - 1e-9);
  }
  // Round each tick to the step's decimals so 3 * 0.1 prints and compares as 0.3.
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(chosen) + 1e-9)));
  const double scale = std::pow(10.0, decimals);
  std::vector<double> ticks;
  for (double k = first; k <= last + 0.5; k += 1) {
    double v = std::round(k * chosen * scale) / scale;
    if (v == 0) v = 0;  // no -0
    ticks.push_back(v);
  }
  return ticks;
}

inline std::string format_tick(double value, double step) {
  int decimals = 0;
  if (step > 0 && std::isfinite(step)) decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  // A step of 0.25 or 2.5 needs one more decimal than its order of magnitude says.
  const double scaled = step * std::pow(10.0, decimals);
  if (std::fabs(scaled - std::round(scaled)) > 1e-6) ++decimals;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 12), value);
  std::string s = buf;
  if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);  // "-0.0" -> "0.0"
  return s;
}

inline std::string render_grouped_bars(const BarChart& chart) {
  detail::check_size(chart.width, chart.height);
  detail::check_category_series(chart.categories, chart.series, "render_grouped_bars");
  detail::Svg svg(chart.width, chart.height, chart.title);
  const auto styles = detail::resolve_styles(detail::pointers(chart.series));
  const double top = detail::draw_header(svg, chart.title, chart.subtitle, styles, detail::Swatch::box, false);
  if (chart.categories.empty() || chart.series.empty()) return detail::no_data(svg, top);

  const std::size_t ncat = chart.categories.size(), nser = chart.series.size();
  const bool speedups = chart.speedup_labels && nser >= 2;
  // Layout: first guess the plot, then the ticks (which set the left margin), then the final plot.
  double bottom = chart.height - (chart.x_label.empty() ? 30.0 : 52.0);
  const double guess_slot = (chart.width - 100.0) / static_cast<double>(ncat);
  const double rotated = detail::category_label_room(chart.categories, guess_slot);
  bottom -= rotated;
  const double headroom = (chart.value_labels ? 18.0 : 4.0) + (speedups ? 20.0 : 0.0);
  auto ticks = detail::zero_based_ticks(detail::max_value(chart.series), headroom, bottom - top);
  const double left = 8 + (chart.y_label.empty() ? 0 : 24) + detail::y_tick_label_width(ticks) + 10;
  const detail::Rect plot{left, top, chart.width - 20.0, bottom};
  detail::draw_y_axis(svg, plot, ticks, chart.y_label);

  const double slot = plot.width() / static_cast<double>(ncat);
  const double group = std::min(slot * 0.72, 90.0 * static_cast<double>(nser));  // no slabs for few categories
  const double bar = group / static_cast<double>(nser);
  const double ymax = ticks.back();
  // A value label is drawn only if every one fits above its bar, so labels never overlap their neighbours.
  bool labels = chart.value_labels;
  for (const auto& s : chart.series)
    for (double v : s.values) labels = labels && detail::text_width(detail::format_value(v), 11) <= bar + 2;
  for (std::size_t c = 0; c < ncat; ++c) {
    const double x0 = plot.left + slot * static_cast<double>(c) + (slot - group) / 2;
    double group_top = plot.bottom;
    for (std::size_t s = 0; s < nser; ++s) {
      const double v = chart.series[s].values[c];
      const double h = v / ymax * plot.height();
      const double x = x0 + bar * static_cast<double>(s);
      const double inset = bar > 8 ? 1.0 : 0.0;  // a hairline gap between neighbouring bars
      if (h > 0) svg.rect(x + inset, plot.bottom - h, bar - 2 * inset, h, styles[s].color);
      if (labels) svg.text(x + bar / 2, plot.bottom - h - 5, detail::format_value(v), 11, "middle");
      group_top = std::min(group_top, plot.bottom - h - (labels ? 16.0 : 0.0));
    }
    if (speedups) {
      const double first = chart.series.front().values[c], last = chart.series.back().values[c];
      if (first > 0)
        svg.text(x0 + bar * (static_cast<double>(nser) - 0.5), group_top - 6, detail::fmt("%.1f", last / first) + "x", 13, "middle", true,
                 "#111111");
    }
  }
  detail::draw_x_categories(svg, plot, chart.categories, chart.x_label, rotated);
  return svg.finish();
}

inline std::string render_lines(const LineChart& chart) {
  detail::check_size(chart.width, chart.height);
  detail::check_category_series(chart.categories, chart.series, "render_lines");
  detail::Svg svg(chart.width, chart.height, chart.title);
  const auto styles = detail::resolve_styles(detail::pointers(chart.series));
  const double top = detail::draw_header(svg, chart.title, chart.subtitle, styles, detail::Swatch::line,
                                         chart.markers);
  if (chart.categories.empty() || chart.series.empty()) return detail::no_data(svg, top);

  double bottom = chart.height - (chart.x_label.empty() ? 30.0 : 52.0);
  const double rotated =
      detail::category_label_room(chart.categories, (chart.width - 100.0) / static_cast<double>(chart.categories.size()));
  bottom -= rotated;
  const auto ticks = detail::zero_based_ticks(detail::max_value(chart.series), 0, bottom - top);
  const double left = 8 + (chart.y_label.empty() ? 0 : 24) + detail::y_tick_label_width(ticks) + 10;
  const detail::Rect plot{left, top, chart.width - 20.0, bottom};
  detail::draw_y_axis(svg, plot, ticks, chart.y_label);
  detail::draw_x_categories(svg, plot, chart.categories, chart.x_label, rotated);
  detail::draw_line_series(svg, plot, ticks, chart.series, styles, 0, chart.markers);
  return svg.finish();
}

inline std::string render_ttft_tpot(const TtftTpotChart& chart) {
  detail::check_size(chart.width, chart.height);
  detail::check_category_series(chart.categories, chart.ttft, "render_ttft_tpot");
  detail::check_category_series(chart.categories, chart.tpot, "render_ttft_tpot");
  detail::Svg svg(chart.width, chart.height, chart.title);
  auto all = detail::pointers(chart.ttft);
  for (const Series* s : detail::pointers(chart.tpot)) all.push_back(s);
  const auto legend = detail::merged_styles(all);
  const double top = detail::draw_header(svg, chart.title, chart.subtitle, legend, detail::Swatch::line,
                                         chart.markers);
  if (chart.categories.empty() || all.empty()) return detail::no_data(svg, top);

  const double panel_title_h = 20;
  double bottom = chart.height - (chart.x_label.empty() ? 30.0 : 52.0);
  const double half = chart.width / 2.0;
  const double rotated =
      detail::category_label_room(chart.categories, (half - 90.0) / static_cast<double>(chart.categories.size()));
  bottom -= rotated;
  struct Panel {
    const std::vector<Series>* series;
    std::string title, y_label;
  };
  const Panel panels[2] = {{&chart.ttft, "Time to first token", "TTFT (" + chart.unit + ")"},
                           {&chart.tpot, "Time per output token", "TPOT (" + chart.unit + ")"}};
  for (int p = 0; p < 2; ++p) {
    const double x_off = p * half;
    const double plot_top = top + panel_title_h;
    const auto ticks = detail::zero_based_ticks(detail::max_value(*panels[p].series), 0, bottom - plot_top);
    const double left = x_off + 8 + 24 + detail::y_tick_label_width(ticks) + 10;
    const detail::Rect plot{left, plot_top, x_off + half - 16, bottom};
    svg.text((plot.left + plot.right) / 2, top + 6, panels[p].title, 13, "middle", true);
    // The rotated y label sits at a fixed x in draw_y_axis; draw this panel's own instead.
    detail::draw_y_axis(svg, plot, ticks, "");
    svg.text(x_off + 18, (plot.top + plot.bottom) / 2, panels[p].y_label, 13, "middle", false, "#222222", -90);
    detail::draw_x_categories(svg, plot, chart.categories, chart.x_label, rotated);
    if (panels[p].series->empty()) {
      svg.text((plot.left + plot.right) / 2, (plot.top + plot.bottom) / 2, "No data", 14, "middle", false,
               "#555555");
      continue;
    }
    detail::draw_line_series(svg, plot, ticks, *panels[p].series, detail::styles_for(*panels[p].series, legend), 0,
                             chart.markers);
  }
  return svg.finish();
}

inline std::string render_cdf(const CdfChart& chart) {
  detail::check_size(chart.width, chart.height);
  for (const Series& s : chart.series) detail::check_values(s, "render_cdf");
  detail::Svg svg(chart.width, chart.height, chart.title);
  // The legend says how many samples each curve has: a CDF of 5 samples reads very differently from one of 5000.
  std::vector<Series> labelled;
  for (const Series& s : chart.series) {
    Series l = s;
    l.name = s.name + (s.values.empty() ? " (no samples)" : " (n=" + std::to_string(s.values.size()) + ")");
    if (l.color.empty()) l.color = lab_color_for(s.name);
    l.values.clear();
    labelled.push_back(std::move(l));
  }
  const auto styles = detail::resolve_styles(detail::pointers(labelled));
  const double top = detail::draw_header(svg, chart.title, chart.subtitle, styles, detail::Swatch::line, false);
  const double max = detail::max_value(chart.series);
  bool any = false;
  for (const Series& s : chart.series) any = any || !s.values.empty();
  if (!any) return detail::no_data(svg, top);

  const double bottom = chart.height - (chart.x_label.empty() ? 30.0 : 52.0);
  const auto yt = nice_ticks(0, 1, 6);
  const auto xt = nice_ticks(0, max, 8);
  const double left = 8 + (chart.y_label.empty() ? 0 : 24) + detail::y_tick_label_width(yt, true) + 10;
  const detail::Rect plot{left, top + 6, chart.width - 40.0, bottom};
  detail::draw_y_axis(svg, plot, yt, chart.y_label, true);
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1;
  const double xmax = xt.back();
  auto px = [&](double v) { return plot.left + v / xmax * plot.width(); };
  auto py = [&](double f) { return plot.bottom - f * plot.height(); };
  svg.line(plot.left, plot.bottom, plot.right, plot.bottom, "#444444", 1);
  for (double t : xt) {
    svg.line(px(t), plot.bottom, px(t), plot.bottom + 4, "#444444", 1);
    svg.text(px(t), plot.bottom + 18, format_tick(t, xstep), 12, "middle");
  }
  if (!chart.x_label.empty())
    svg.text((plot.left + plot.right) / 2, plot.bottom + 40, chart.x_label, 13, "middle");
  // Guides at the two fractions the toolkit reports, labelled at the right edge.
  for (double f : {0.5, 0.95}) {
    svg.line(plot.left, py(f), plot.right, py(f), "#9a9a9a", 1, true);
    svg.text(plot.right + 3, py(f) + 4, f == 0.5 ? "p50" : "p95", 11, "start", false, "#444444");
  }
  for (std::size_t s = 0; s < chart.series.size(); ++s) {
    std::vector<double> v = chart.series[s].values;
    if (v.empty()) continue;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    // A step function: at sample i (0-based) the fraction jumps from i/n to (i+1)/n. Thousands of samples are
    // thinned to about 1000 steps, far below what 800 pixels can show.
    const std::size_t stride = std::max<std::size_t>(1, n / 1000);
    std::vector<std::pair<double, double>> points{{px(v[0]), py(0)}};
    for (std::size_t i = 0; i < n; i += stride) {
      const std::size_t j = std::min(n - 1, i + stride - 1);  // last sample of this thinned step
      points.push_back({px(v[i]), points.back().second});
      points.push_back({px(v[i]), py(static_cast<double>(j + 1) / static_cast<double>(n))});
    }
    points.push_back({plot.right, py(1)});
    svg.polyline(points, styles[s].color, styles[s].dashed);
  }
  return svg.finish();
}

}  // namespace chart
}  // namespace servebench
