package org.deephash.delf.eval;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;

/** Two images side by side with their correspondences drawn: inliers green, other matches faint red. */
public final class MatchPicture {
  private MatchPicture() {}

  /**
   * @param a the query image, {@code ax} its keypoints (x, y pairs)
   * @param b the other image, {@code bx} the matched keypoints in it
   * @param inlier which correspondences the geometric model accepts (null: none)
   * @param height both images are drawn at this height
   */
  public static BufferedImage draw(BufferedImage a, float[] ax, BufferedImage b, float[] bx, boolean[] inlier, int n,
      int height, String caption) {
    double sa = height / (double) a.getHeight();
    double sb = height / (double) b.getHeight();
    int wa = (int) Math.round(a.getWidth() * sa);
    int wb = (int) Math.round(b.getWidth() * sb);
    int gap = 16;
    int top = 28;
    BufferedImage out = new BufferedImage(wa + gap + wb, height + top, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = out.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, out.getWidth(), out.getHeight());
      g.drawImage(a, 0, top, wa, height, null);
      g.drawImage(b, wa + gap, top, wb, height, null);
      g.setColor(Color.BLACK);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
      g.drawString(caption, 6, 19);
      for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n; i++) {
          boolean in = inlier != null && inlier[i];
          if ((pass == 1) != in) {
            continue;
          }
          g.setStroke(new BasicStroke(in ? 1.6f : 0.8f));
          g.setColor(in ? new Color(0, 200, 60) : new Color(220, 40, 40, 90));
          int x1 = (int) Math.round(ax[2 * i] * sa);
          int y1 = top + (int) Math.round(ax[2 * i + 1] * sa);
          int x2 = wa + gap + (int) Math.round(bx[2 * i] * sb);
          int y2 = top + (int) Math.round(bx[2 * i + 1] * sb);
          g.drawLine(x1, y1, x2, y2);
          if (in) {
            g.fillOval(x1 - 2, y1 - 2, 5, 5);
            g.fillOval(x2 - 2, y2 - 2, 5, 5);
          }
        }
      }
    } finally {
      g.dispose();
    }
    return out;
  }
}
