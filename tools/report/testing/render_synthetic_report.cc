// Writes the synthetic scatter-delete report to the file named by argv[1]
// (for the render-time script and for looking at the page). Optional
// argv[2]: sweeps, argv[3]: slabs of the 1280-byte class, argv[4]: slabs of
// the unevenly filled 64-byte class.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tools/report/html_report.h"
#include "tools/report/testing/synthetic_report.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(
        stderr,
        "usage: render_synthetic_report OUT.html [SWEEPS [SLABS [SMALL]]]\n");
    return 2;
  }
  slabtrace::SyntheticReportShape shape;
  if (argc > 2) shape.sweeps = std::strtoull(argv[2], nullptr, 10);
  if (argc > 3) shape.slabs = std::strtoull(argv[3], nullptr, 10);
  if (argc > 4) shape.small_class_slabs = std::strtoull(argv[4], nullptr, 10);
  const std::string html =
      slabtrace::RenderHtmlReport(slabtrace::ScatterDeleteReport(shape));
  std::ofstream out(argv[1], std::ios::binary);
  out << html;
  out.close();
  if (!out) {
    std::fprintf(stderr, "render_synthetic_report: %s: cannot write\n",
                 argv[1]);
    return 2;
  }
  return 0;
}
