// servebench — the parts every SVG chart is drawn with: a series, round axis ticks, text measures, XML escaping,
// the document builder, axes, legends and headers. chart.hpp draws the charts themselves from these.
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

namespace servebench {
namespace chart {

// One named series. `color` empty: the next palette colour in order of appearance. `dashed` draws a line series
// dashed (e.g. p95 beside a solid mean); bars ignore it.
struct Series {
  std::string name;
  std::vector<double> values;
  std::string color;
  bool dashed = false;
};

// Round axis ticks covering [lo, hi]: step is 1, 2 or 5 times a power of ten, the smallest such step that needs at
// most `max_ticks` ticks when lo is a multiple of it; first tick <= lo, last tick >= hi. lo == hi widens the range
// (0..1 for 0; v..v becomes v/2..3v/2). Throws std::invalid_argument for non-finite bounds, lo > hi or max_ticks < 2.
template <class = void>
std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 7);

// A tick value printed with as many decimals as the step needs ("0", "0.5", "0.25"), never "-0".
template <class = void>
std::string format_tick(double value, double step);

// XML text/attribute escaping (& < > " '); control characters XML 1.0 forbids and invalid UTF-8 become '?'.
template <class = void>
std::string xml_escape(const std::string& text);

namespace detail {

template <class = void>
const std::vector<std::string>& palette() {
  // Tableau-10-like: distinct in colour and in lightness, so series stay apart on a grey-scale printout.
  static const std::vector<std::string> colors = {"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1",
                                                  "#9c755f", "#e15759", "#76b7b2", "#edc948"};
  return colors;
}

template <class = void>
std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

template <class = void>
std::string fmt(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

// Coordinates with one decimal: enough for a crisp 800x500 picture, small files.
template <class = void>
std::string num(double v) {
  std::string s = fmt("%.1f", v);
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  if (s == "-0") s = "0";
  return s;
}

// Bar and guide values: 3 significant-ish digits without trailing noise.
template <class = void>
std::string format_value(double v) {
  const double a = std::fabs(v);
  if (a >= 100 || v == std::floor(v)) return fmt("%.0f", v);
  if (a >= 10) return fmt("%.1f", v);
  if (a >= 0.01) return fmt("%.2f", v);
  return fmt("%.3g", v);
}

// Rough advance width of text in a sans-serif font (DejaVu Sans averages ~0.6em); used only for layout decisions.
template <class = void>
double text_width(const std::string& s, double font_px) {
  std::size_t chars = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++chars;  // count UTF-8 code points, not bytes
  return static_cast<double>(chars) * font_px * 0.6;
}

// Shortens text to fit `max_px`, ending it with an ellipsis.
template <class = void>
std::string fit_text(const std::string& s, double font_px, double max_px) {
  if (text_width(s, font_px) <= max_px) return s;
  std::string out = s;
  while (!out.empty() && text_width(out + "...", font_px) > max_px) {
    out.pop_back();
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0xC0) out.pop_back();
  }
  return out + "...";
}

template <class = void>
void check_size(int width, int height) {
  if (width < 320 || height < 240 || width > 10000 || height > 10000)
    throw std::invalid_argument("chart size must be between 320x240 and 10000x10000, got " + std::to_string(width) +
                                "x" + std::to_string(height));
}

template <class = void>
void check_values(const Series& s, const char* what) {
  for (std::size_t i = 0; i < s.values.size(); ++i) {
    const double v = s.values[i];
    if (!std::isfinite(v) || v < 0)
      throw std::invalid_argument(std::string(what) + ": series '" + s.name + "' value " + std::to_string(i) + " is " +
                                  (std::isnan(v) ? std::string("NaN") : std::to_string(v)) +
                                  "; chart values must be finite and >= 0");
  }
}

template <class = void>
void check_category_series(const std::vector<std::string>& categories, const std::vector<Series>& series,
                           const char* what) {
  for (const Series& s : series) {
    if (s.values.size() != categories.size())
      throw std::invalid_argument(std::string(what) + ": series '" + s.name + "' has " +
                                  std::to_string(s.values.size()) + " values for " + std::to_string(categories.size()) +
                                  " categories");
    check_values(s, what);
  }
}

// Resolved drawing style of one legend entry.
struct Style {
  std::string name, color;
  bool dashed = false;
};

// Explicit colour, else the next palette colour.
template <class = void>
std::vector<Style> resolve_styles(const std::vector<const Series*>& series) {
  std::vector<Style> out;
  std::size_t next = 0;
  for (const Series* s : series) {
    const std::string color = s->color.empty() ? palette()[next++ % palette().size()] : s->color;
    out.push_back({s->name, color, s->dashed});
  }
  return out;
}

struct Rect {
  double left, top, right, bottom;
  double width() const { return right - left; }
  double height() const { return bottom - top; }
};

// Builds the SVG document; every text goes through xml_escape here, so no caller can forget it. The member
// templates are deferred bodies (see serialize.hpp): callers never name their parameter.
class Svg {
 public:
  template <class = void>
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

  template <class = void>
  void text(double x, double y, const std::string& s, double size, const char* anchor = "start", bool bold = false,
            const char* fill = "#222222", double rotate = 0) {
    out_ += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(size) + "\" text-anchor=\"" + anchor +
            "\"";
    if (bold) out_ += " font-weight=\"bold\"";
    if (std::string(fill) != "#222222") out_ += std::string(" fill=\"") + fill + "\"";
    if (rotate != 0) out_ += " transform=\"rotate(" + num(rotate) + " " + num(x) + " " + num(y) + ")\"";
    out_ += ">" + xml_escape(s) + "</text>\n";
  }
  template <class = void>
  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double width, bool dashed = false) {
    out_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" + num(y2) +
            "\" stroke=\"" + xml_escape(stroke) + "\" stroke-width=\"" + num(width) + "\"" +
            (dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>\n";
  }
  template <class = void>
  void rect(double x, double y, double w, double h, const std::string& fill) {
    out_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" + num(h) +
            "\" fill=\"" + xml_escape(fill) + "\"/>\n";
  }
  template <class = void>
  void circle(double x, double y, double r, const std::string& fill) {
    out_ += "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"" + num(r) + "\" fill=\"" + xml_escape(fill) +
            "\" stroke=\"#ffffff\" stroke-width=\"1.5\"/>\n";
  }
  template <class = void>
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
template <class = void>
double draw_header(Svg& svg, const std::string& title, const std::string& subtitle, const std::vector<Style>& legend,
                   Swatch swatch, bool markers) {
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
template <class = void>
void draw_y_axis(Svg& svg, const Rect& plot, const std::vector<double>& ticks, const std::string& label,
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

template <class = void>
double y_tick_label_width(const std::vector<double>& ticks, bool percent = false) {
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  double w = 0;
  for (double t : ticks)
    w = std::max(w, text_width(percent ? format_tick(t * 100, step * 100) + "%" : format_tick(t, step), 12));
  return w;
}

// Categorical horizontal axis; labels are rotated when they do not fit their slot. Returns the extra height the
// rotated labels need (0 when horizontal) — callers lay out with label_room() first.
template <class = void>
double category_label_room(const std::vector<std::string>& categories, double slot_w) {
  double widest = 0;
  for (const auto& c : categories) widest = std::max(widest, text_width(c, 12));
  if (widest <= slot_w - 4) return 0;
  return std::min(widest, 160.0) * 0.5;  // sin(30 deg): height of a label rotated by -30 degrees
}

template <class = void>
void draw_x_categories(Svg& svg, const Rect& plot, const std::vector<std::string>& categories, const std::string& label,
                       double rotated_room) {
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
template <class = void>
std::string no_data(Svg& svg, double top) {
  const double left = 40, right = svg.width() - 40.0, bottom = svg.height() - 40.0;
  svg.line(left, top, right, top, "#bbbbbb", 1, true);
  svg.line(left, bottom, right, bottom, "#bbbbbb", 1, true);
  svg.line(left, top, left, bottom, "#bbbbbb", 1, true);
  svg.line(right, top, right, bottom, "#bbbbbb", 1, true);
  svg.text(svg.width() / 2.0, (top + bottom) / 2.0 + 8, "No data", 22, "middle", true, "#555555");
  return svg.finish();
}

template <class = void>
std::vector<const Series*> pointers(const std::vector<Series>& series) {
  std::vector<const Series*> out;
  for (const Series& s : series) out.push_back(&s);
  return out;
}

template <class = void>
double max_value(const std::vector<Series>& series) {
  double m = 0;
  for (const Series& s : series)
    for (double v : s.values) m = std::max(m, v);
  return m;
}

// Ticks from 0 whose top leaves `headroom_px` above `max` in a plot `plot_h` tall (room for value labels).
template <class = void>
std::vector<double> zero_based_ticks(double max, double headroom_px, double plot_h) {
  const double fraction = std::min(0.5, headroom_px / std::max(plot_h, 1.0));
  return nice_ticks(0, max / (1 - fraction));
}

// Draws line series over categorical slots inside `plot` (ticks give the y range).
template <class = void>
void draw_line_series(Svg& svg, const Rect& plot, const std::vector<double>& ticks, const std::vector<Series>& series,
                      const std::vector<Style>& styles, std::size_t first_style, bool markers) {
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
template <class = void>
std::vector<Style> merged_styles(const std::vector<const Series*>& all) {
  std::vector<const Series*> unique;
  for (const Series* s : all) {
    bool seen = false;
    for (const Series* u : unique) seen = seen || u->name == s->name;
    if (!seen) unique.push_back(s);
  }
  return resolve_styles(unique);
}

template <class = void>
std::vector<Style> styles_for(const std::vector<Series>& series, const std::vector<Style>& legend) {
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

template <class>
std::string xml_escape(const std::string& text) {
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

template <class>
std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
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

template <class>
std::string format_tick(double value, double step) {
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

}  // namespace chart
}  // namespace servebench
