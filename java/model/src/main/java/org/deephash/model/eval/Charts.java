package org.deephash.model.eval;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.deephash.SearchResult;
import org.deephash.model.data.Dataset;

/**
 * The pictures written next to the results, drawn with java.awt (headless): precision@k curves of
 * the rows, and a grid of query images with their top retrieved images (green frame: same label,
 * red: different).
 */
public final class Charts {
  private static final Color[] COLOURS = {
      new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e), new Color(0x9467bd),
      new Color(0x8c564b), new Color(0xe377c2)};

  private Charts() {}

  /** Precision@k for k = 1..1000 (log-scaled k axis), one line per row. */
  public static void precisionCurves(Path png, List<Evaluation.Row> rows, String title) throws IOException {
    int left = 70;
    int longest = 0;
    for (Evaluation.Row r : rows) {
      longest = Math.max(longest, legend(r).length());
    }
    int right = Math.max(200, 60 + 7 * longest); // room for the longest legend line
    int w = 700 + right;
    int h = 560;
    int top = 50;
    int bottom = 60;
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, w, h);
      int pw = w - left - right;
      int ph = h - top - bottom;
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
      for (int i = 0; i <= 10; i++) {
        int y = top + ph - i * ph / 10;
        g.setColor(new Color(0xe6e6e6));
        g.drawLine(left, y, left + pw, y);
        g.setColor(Color.DARK_GRAY);
        g.drawString(String.format(Locale.ROOT, "%.1f", i / 10.0), left - 30, y + 4);
      }
      for (int k : new int[] {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}) {
        int x = left + (int) Math.round(Math.log10(k) / 3.0 * pw);
        g.setColor(new Color(0xe6e6e6));
        g.drawLine(x, top, x, top + ph);
        g.setColor(Color.DARK_GRAY);
        g.drawString(Integer.toString(k), x - 8, top + ph + 18);
      }
      g.setColor(Color.BLACK);
      g.drawRect(left, top, pw, ph);
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
      g.drawString(title, left, top - 18);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
      g.drawString("k (number of retrieved images)", left + pw / 2 - 90, h - 15);
      g.rotate(-Math.PI / 2);
      g.drawString("precision@k", -(top + ph / 2 + 40), 22);
      g.rotate(Math.PI / 2);
      g.setStroke(new BasicStroke(2.2f));
      for (int r = 0; r < rows.size(); r++) {
        double[] c = rows.get(r).curve();
        g.setColor(COLOURS[r % COLOURS.length]);
        int px = -1;
        int py = -1;
        for (int k = 1; k <= c.length; k++) {
          int x = left + (int) Math.round(Math.log10(k) / Math.log10(c.length) * pw);
          int y = top + ph - (int) Math.round(c[k - 1] * ph);
          if (px >= 0) {
            g.drawLine(px, py, x, y);
          }
          px = x;
          py = y;
        }
        int ly = top + 20 + r * 22;
        g.drawLine(left + pw + 15, ly - 4, left + pw + 40, ly - 4);
        g.setColor(Color.BLACK);
        g.drawString(legend(rows.get(r)), left + pw + 46, ly);
      }
    } finally {
      g.dispose();
    }
    write(img, png);
  }

  /** "HDS (latent)  P@10 0.948": the row, its fine stage when it has one, its P@10. */
  static String legend(Evaluation.Row r) {
    String name = r.name().toUpperCase(Locale.ROOT);
    if (r.fineStage() != null) {
      name = (r.name().startsWith("hds") ? "HDS" : name) + " (" + r.fineStage() + ")";
    }
    return name + String.format(Locale.ROOT, "  P@10 %.3f", r.precisionAtK()[1]);
  }

  /**
   * A grid: one line per query (the first {@code queries} of the result), the query image then its
   * top {@code k} results, framed green when the label matches the query's and red otherwise.
   */
  public static void retrievalGrid(Path png, Dataset queries, Dataset database, SearchResult result, int nQueries, int k)
      throws IOException {
    int scale = Math.max(1, 56 / Math.max(queries.height(), queries.width()));
    int cw = queries.width() * scale;
    int ch = queries.height() * scale;
    int pad = 4;
    int gap = 14;
    int rowsShown = Math.min(nQueries, result.queryCount());
    int w = pad + (cw + 2 * pad) * (k + 1) + gap + pad;
    int h = pad + (ch + 2 * pad) * rowsShown + pad;
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    try {
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, w, h);
      for (int q = 0; q < rowsShown; q++) {
        int y = pad + q * (ch + 2 * pad);
        draw(g, queries, q, pad + pad, y + pad, scale, Color.GRAY);
        int n = Math.min(k, result.count(q));
        for (int j = 0; j < n; j++) {
          int id = (int) result.id(q, j);
          Color frame = database.labels()[id] == queries.labels()[q] ? new Color(0x2ca02c) : new Color(0xd62728);
          draw(g, database, id, pad + (j + 1) * (cw + 2 * pad) + gap + pad, y + pad, scale, frame);
        }
      }
    } finally {
      g.dispose();
    }
    write(img, png);
  }

  private static void draw(Graphics2D g, Dataset d, int i, int x0, int y0, int scale, Color frame) {
    int c = d.channels();
    int base = i * d.imageSize();
    float[] px = d.pixels();
    for (int y = 0; y < d.height(); y++) {
      for (int x = 0; x < d.width(); x++) {
        int o = base + (y * d.width() + x) * c;
        int r = Math.round(px[o] * 255);
        int gr = c >= 3 ? Math.round(px[o + 1] * 255) : r;
        int b = c >= 3 ? Math.round(px[o + 2] * 255) : r;
        g.setColor(new Color(clamp(r), clamp(gr), clamp(b)));
        g.fillRect(x0 + x * scale, y0 + y * scale, scale, scale);
      }
    }
    g.setColor(frame);
    g.setStroke(new BasicStroke(3f));
    g.drawRect(x0 - 2, y0 - 2, d.width() * scale + 3, d.height() * scale + 3);
  }

  private static int clamp(int v) {
    return Math.max(0, Math.min(255, v));
  }

  private static void write(BufferedImage img, Path png) throws IOException {
    Path parent = png.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    if (!ImageIO.write(img, "png", png.toFile())) {
      throw new IOException("no PNG writer in this JVM");
    }
  }
}
