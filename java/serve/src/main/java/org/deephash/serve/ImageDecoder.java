package org.deephash.serve;

import java.awt.image.BufferedImage;
import java.awt.image.DataBuffer;
import java.awt.image.SampleModel;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Iterator;
import java.util.Locale;
import java.util.Set;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.stream.ImageInputStream;
import org.deephash.delf.data.Photos;
import org.deephash.model.data.Exif;
import org.deephash.model.data.Pixels;

/**
 * Uploaded image bytes to the model's input, with memory bounded by what the model needs rather
 * than by what the file announces.
 *
 * <ul>
 *   <li>{@link #header}: the format and size from the file's header alone (no pixel decoded);
 *       only PNG, JPEG, WebP, GIF and BMP are read (ImageIO would also take TIFF and WBMP, whose readers
 *       are more to trust on hostile input than this service needs), and a size over the limits
 *       is refused (413).
 *   <li>{@link #decode}: decodes with source subsampling (ImageIO's {@link ImageReadParam}) down to
 *       no less than twice the model's input size in each direction, so a 4096 x 4096 upload for a
 *       28 x 28 network becomes a 57 x 57 raster, never a 4096 x 4096 one; the final resize to
 *       the model's input is {@link Pixels#of} (bilinear) as before. The raster's bytes are
 *       reserved in the {@link DecodeBudget} first: an upload that does not fit now gets 503.
 *   <li>A JPEG is turned upright by its EXIF orientation ({@link Exif}) before the resize, as
 *       {@code index --photos} turns the indexed photos: a phone's photo stored sideways is
 *       searched as it is seen. The width and height reported are the upright ones.
 * </ul>
 */
final class ImageDecoder {
  /** The formats an upload may be in (ImageIO's format names, lower case). */
  static final Set<String> FORMATS = Set.of("png", "jpeg", "webp", "gif", "bmp");

  /** What an image's header says. */
  record Header(String format, int width, int height) {}

  /**
   * The model's input and the picture it was made from.
   *
   * @param width the upload's width
   * @param height the upload's height
   * @param decodedWidth the raster's width after subsampling
   * @param decodedHeight the raster's height after subsampling
   * @param pixels the model's input (height x width x channels floats in [0, 1])
   */
  record Decoded(int width, int height, int decodedWidth, int decodedHeight, float[] pixels) {}

  private final DecodeBudget budget;

  ImageDecoder(DecodeBudget budget) {
    this.budget = budget;
  }

  DecodeBudget budget() {
    return budget;
  }

  /** Reads the format and size from the header; 400 when it is not an image of {@link #FORMATS}, 413 over the limits. */
  static Header header(byte[] body, ServeConfig limits) {
    if (body.length == 0) {
      throw ApiException.badRequest("the body is empty: POST the image's bytes");
    }
    return read(body, (reader, in) -> {
      long w = reader.getWidth(0);
      long h = reader.getHeight(0);
      checkSize(w, h, limits);
      return new Header(format(reader), (int) w, (int) h);
    });
  }

  /**
   * Decodes an upload to the model's input ({@code height x width}, {@code channels}), subsampled
   * while decoding, within the budget.
   *
   * @throws ApiException 400 for an unreadable image, 413 for one over the limits or larger than
   *     the whole budget, 503 (with Retry-After) when the budget is taken by other uploads now
   */
  Decoded decode(byte[] body, ServeConfig limits, int height, int width, Pixels.Channels channels) {
    return read(body, (reader, in) -> {
      int w = reader.getWidth(0);
      int h = reader.getHeight(0);
      checkSize(w, h, limits);
      // a phone's JPEG is often stored turned, with the EXIF orientation saying how to view it;
      // turned by 90 degrees (5..8), the stored picture's width becomes the upright height
      int orientation = format(reader).equals("jpeg") ? Exif.orientation(body) : Exif.NORMAL;
      boolean turned = orientation >= 5;
      int sx = Math.max(1, w / (2 * (turned ? height : width)));
      int sy = Math.max(1, h / (2 * (turned ? width : height)));
      int dw = (w + sx - 1) / sx;
      int dh = (h + sy - 1) / sy;
      long bytes = rasterBytes(reader, dw, dh);
      if (orientation != Exif.NORMAL) {
        bytes += (long) dw * dh * 4; // the upright copy (int RGB)
      }
      try (DecodeBudget.Permit permit = reserve(bytes, w, h)) {
        ImageReadParam param = reader.getDefaultReadParam();
        param.setSourceSubsampling(sx, sy, 0, 0);
        BufferedImage img = reader.read(0, param);
        if (img == null) {
          throw ApiException.badRequest("the image could not be decoded");
        }
        BufferedImage upright = Pixels.orient(img, orientation);
        permit.observe(bytesOf(img) + (upright == img ? 0 : bytesOf(upright)));
        return new Decoded(turned ? h : w, turned ? w : h, upright.getWidth(), upright.getHeight(),
            Pixels.of(upright, height, width, channels));
      }
    });
  }

  /**
   * Decodes an upload as {@link Photos#load} decodes a file, for local features: every pixel, as
   * stored (no EXIF turn, as {@code delf index} reads the indexed photos, so that an indexed photo
   * sent again gives its indexed features), RGB, its longer side brought to at most {@code maxSide}.
   * Within the budget, with the same errors as {@link #decode}.
   */
  BufferedImage picture(byte[] body, ServeConfig limits, int maxSide) {
    return read(body, (reader, in) -> {
      int w = reader.getWidth(0);
      int h = reader.getHeight(0);
      checkSize(w, h, limits);
      long bytes = rasterBytes(reader, w, h) + (long) w * h * 4; // and the RGB copy
      try (DecodeBudget.Permit permit = reserve(bytes, w, h)) {
        BufferedImage img = reader.read(0, reader.getDefaultReadParam());
        if (img == null) {
          throw ApiException.badRequest("the image could not be decoded");
        }
        permit.observe(bytesOf(img) + (long) w * h * 4);
        return Photos.fit(img, maxSide);
      }
    });
  }

  /** Reserves {@code bytes} of the budget for a {@code w x h} image: 413 when it could never fit, 503 when not now. */
  private DecodeBudget.Permit reserve(long bytes, int w, int h) {
    if (bytes > budget.capacity()) {
      throw new ApiException(413, "decoding this " + w + "x" + h + " image takes " + mib(bytes) + " MiB, more than"
          + " the server's decode budget of " + mib(budget.capacity()) + " MiB: send a smaller image");
    }
    DecodeBudget.Permit permit = budget.tryAcquire(bytes);
    if (permit == null) {
      throw new ApiException(503, "the server is decoding other images now (" + mib(budget.capacity()) + " MiB of"
          + " pixels in flight at most); retry in a moment");
    }
    return permit;
  }

  @FunctionalInterface
  private interface WithReader<T> {
    T apply(ImageReader reader, ImageInputStream in) throws IOException;
  }

  private static <T> T read(byte[] body, WithReader<T> f) {
    try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(body))) {
      ImageReader reader = null;
      Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
      while (readers != null && readers.hasNext()) {
        ImageReader r = readers.next();
        if (FORMATS.contains(format(r))) {
          reader = r;
          break;
        }
        r.dispose();
      }
      if (reader == null) {
        throw ApiException.badRequest("the body is not an image this server can read (PNG, JPEG, WebP, GIF or BMP)");
      }
      try {
        // ignoreMetadata: the readers then skip text chunks (zTXt, iTXt) instead of inflating them
        reader.setInput(in, true, true);
        return f.apply(reader, in);
      } finally {
        reader.dispose();
      }
    } catch (ApiException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw ApiException.badRequest("the image could not be decoded (" + RequestParser.safe(String.valueOf(
          e.getMessage())) + ")");
    }
  }

  private static String format(ImageReader r) {
    try {
      return r.getFormatName().toLowerCase(Locale.ROOT);
    } catch (IOException e) {
      return "";
    }
  }

  private static void checkSize(long w, long h, ServeConfig l) {
    if (w < 1 || h < 1 || w > l.maxImageSide() || h > l.maxImageSide() || w * h > l.maxImagePixels()) {
      throw new ApiException(413, "the image is " + w + "x" + h + " pixels; the limit is " + l.maxImageSide()
          + " a side and " + l.maxImagePixels() + " pixels: send a smaller image");
    }
  }

  /**
   * What a {@code w x h} raster of the reader's first destination type (the one {@code read}
   * makes) takes, plus the reader's own working rows; JPEG twice over, since its colour
   * conversions can hold a second raster; WebP plus a whole frame at full size (its decoder
   * subsamples after decoding the frame).
   */
  private static long rasterBytes(ImageReader reader, int w, int h) throws IOException {
    Iterator<ImageTypeSpecifier> types = reader.getImageTypes(0);
    long perPixel = 8; // the widest standard layout (16-bit RGBA) when the reader does not say
    if (types != null && types.hasNext()) {
      SampleModel sm = types.next().getSampleModel(1, 1);
      perPixel = (long) sm.getNumDataElements() * DataBuffer.getDataTypeSize(sm.getTransferType()) / 8;
      perPixel = Math.max(1, perPixel);
    }
    long bytes = (long) w * h * perPixel + (long) reader.getWidth(0) * 8 * 2;
    return switch (format(reader)) {
      case "jpeg" -> 2 * bytes;
      case "webp" -> bytes + (long) reader.getWidth(0) * reader.getHeight(0) * 4;
      default -> bytes;
    };
  }

  /** The bytes a decoded image's pixels take. */
  static long bytesOf(BufferedImage img) {
    DataBuffer db = img.getRaster().getDataBuffer();
    return (long) db.getSize() * db.getNumBanks() * DataBuffer.getDataTypeSize(db.getDataType()) / 8;
  }

  private static long mib(long bytes) {
    return (bytes + (1 << 20) - 1) >> 20;
  }
}
