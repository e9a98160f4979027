package org.deephash.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every rule of a search request, without a socket, an index or a model: the parser on plain values. */
class RequestParserTest {
  /** 48-bit codes, 4-d features, a model, k <= 500, pool <= 2000, images up to 2048 a side. */
  private static final ServeConfig LIMITS = ServeConfig.defaults().withLimits(1 << 20, 500, 2000, 20_000)
      .withImageLimits(2048, 2048L * 2048);
  private static final RequestParser PARSER = new RequestParser(new RequestParser.Context(48, 4, true, LIMITS));

  private static SearchRequest json(String query, String body) {
    return PARSER.parse("application/json; charset=utf-8", query, body.getBytes(StandardCharsets.UTF_8));
  }

  private static ApiException refused(String type, String query, String body) {
    return assertThrows(ApiException.class,
        () -> PARSER.parse(type, query, body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8)));
  }

  static byte[] png(int w, int h) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY), "png", out);
    return out.toByteArray();
  }

  @Test
  void defaultsFollowTheIndexAndTheLimits() {
    SearchRequest r = json(null, "{\"id\": 17}");
    assertEquals(new SearchRequest.ById(17), r.source());
    assertEquals(new SearchRequest.Options(SearchService.Mode.HDS, 10, 100, -1, 1000), r.options());
    // Without features the default is BCS, and HDS is refused.
    RequestParser plain = new RequestParser(new RequestParser.Context(64, 0, false, LIMITS));
    SearchRequest.Options o = plain.options(Map.of());
    assertEquals(SearchService.Mode.BCS, o.mode());
    ApiException e = assertThrows(ApiException.class, () -> plain.options(Map.of("mode", "hds")));
    assertTrue(e.getMessage().contains("stores no features"), e.getMessage());
    // The pool follows a large k; the caps follow the limits.
    assertEquals(400, PARSER.options(Map.of("k", "400")).pool());
    RequestParser tight = new RequestParser(new RequestParser.Context(48, 4, true,
        ServeConfig.defaults().withLimits(1 << 20, 50, 60, 1000)));
    assertEquals(new SearchRequest.Options(SearchService.Mode.HDS, 10, 60, -1, 60), tight.options(Map.of()));
  }

  /** JSON numbers and query-string text are read as what they are; no value is re-encoded and re-parsed. */
  @Test
  void optionsFromTheQueryStringAndTheBodyAreReadAsTheyAre() {
    SearchRequest r = json("k=7&mode=BCS&radius=%203%20", "{\"id\": \"9007199254740993\", \"cap\": 40.0}");
    assertEquals(new SearchRequest.ById(9_007_199_254_740_993L), r.source()); // above 2^53: only as a string
    assertEquals(new SearchRequest.Options(SearchService.Mode.BCS, 7, 100, 3, 40), r.options());
    assertEquals(new SearchRequest.ById(-5), json(null, "{\"id\": -5}").source());
    assertEquals(new SearchRequest.ById(-9_007_199_254_740_992L), json(null, "{\"id\": \"-9007199254740992\"}").source());
    ApiException e = refused("application/json", null, "{\"id\": 9007199254740993}");
    assertTrue(e.getMessage().contains("below 2^53 as a JSON number (pass larger ones as a string)"), e.getMessage());
    e = refused("application/json", "k=3", "{\"id\": 1, \"k\": 3}");
    assertEquals("k is given both in the query string and in the JSON body: give it once", e.getMessage());
    e = refused("application/json", null, "{\"id\": 1, \"k\": 2.5}");
    assertEquals("k must be a whole number (got 2.5)", e.getMessage());
    e = refused("application/json", null, "{\"id\": 1, \"k\": true}");
    assertEquals("k must be a whole number (got true)", e.getMessage());
    e = refused("application/json", null, "{\"id\": 1, \"pool\": [100]}");
    assertEquals("pool must be a number, not an array", e.getMessage());
  }

  @Test
  void codeAndFeature() {
    SearchRequest r = json(null, "{\"code\": \"00ff10A0b1c2\", \"feature\": [1, -2.5, 0, 3e2], \"k\": 3}");
    SearchRequest.ByCode c = assertInstanceOf(SearchRequest.ByCode.class, r.source());
    assertArrayEquals(new byte[] {0, (byte) 0xff, 0x10, (byte) 0xa0, (byte) 0xb1, (byte) 0xc2}, c.code());
    assertArrayEquals(new float[] {1, -2.5f, 0, 300}, c.feature());
    SearchRequest bcs = json("mode=bcs", "{\"code\": \"000000000000\"}");
    assertNull(((SearchRequest.ByCode) bcs.source()).feature());
    ApiException e = refused("application/json", null, "{\"code\": \"000000000000\", \"feature\": [1, 2, 3, 1e300]}");
    assertEquals("feature[3] is not a finite number", e.getMessage());
  }

  /** JSON fields are typed: a number in quotes, a null, an option without a value are mistakes, not defaults. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      small id as a string     |            | {"id": "1"}                 | id 1 must be a JSON number (1), not a string
      id true                  |            | {"id": true}                | id must be the number of an indexed image (got true)
      k as a string            |            | {"id": 1, "k": "5"}         | k must be a JSON number, not a string (got "5")
      k null                   |            | {"id": 1, "k": null}        | k is null: leave the field out for the default
      mode null                |            | {"id": 1, "mode": null}     | mode is null: leave the field out for the default, or give hds or bcs
      radius null              |            | {"id": 1, "radius": null}   | radius is null
      k without a value        | k=         | {"id": 1}                   | k has no value: give a whole number, or leave k out
      k without =              | k          | {"id": 1}                   | k has no value
      mode without a value     | mode=      | {"id": 1}                   | mode has no value: give hds or bcs
      empty mode in JSON       |            | {"id": 1, "mode": ""}       | mode has no value
      """)
  void typedJsonAndValuelessOptionsAreRefused(String name, String query, String body, String message) {
    ApiException e = refused("application/json", query, body);
    assertEquals(400, e.status(), name);
    assertTrue(e.getMessage().startsWith(message), name + ": " + e.getMessage());
    // the same holds for an upload's query string
    if (query != null) {
      e = assertThrows(ApiException.class, () -> PARSER.parse("image/png", query, png(30, 20)));
      assertTrue(e.getMessage().startsWith(message), name + ": " + e.getMessage());
    }
  }

  @Test
  void imageUploads() throws IOException {
    byte[] good = png(30, 20);
    SearchRequest r = PARSER.parse("image/png", "k=4&pool=9", good);
    SearchRequest.ByImage img = assertInstanceOf(SearchRequest.ByImage.class, r.source());
    assertEquals(30, img.width());
    assertEquals(20, img.height());
    assertArrayEquals(good, img.bytes());
    assertEquals(9, r.options().pool());
    // Refused by the size its header announces, before decoding.
    ApiException e = assertThrows(ApiException.class, () -> PARSER.parse("image/png", null, png(3000, 10)));
    assertEquals(413, e.status());
    assertTrue(e.getMessage().startsWith("the image is 3000x10 pixels; the limit is 2048 a side"), e.getMessage());
    // A header cut off; (a PNG cut later is refused when decoded: ImageDecoderTest)
    e = assertThrows(ApiException.class, () -> PARSER.parse("image/png", null, Arrays.copyOf(good, 20)));
    assertEquals(400, e.status());
    // TIFF and WBMP are ImageIO formats too, but not ones this server reads
    ByteArrayOutputStream tiff = new ByteArrayOutputStream();
    ImageIO.write(new BufferedImage(30, 20, BufferedImage.TYPE_BYTE_GRAY), "tiff", tiff);
    e = assertThrows(ApiException.class, () -> PARSER.parse("image/tiff", null, tiff.toByteArray()));
    assertEquals(400, e.status());
    assertTrue(e.getMessage().contains("(PNG, JPEG, WebP, GIF or BMP)"), e.getMessage());
    RequestParser noModel = new RequestParser(new RequestParser.Context(48, 4, false, LIMITS));
    e = assertThrows(ApiException.class, () -> noModel.parse("image/png", null, good));
    assertTrue(e.getMessage().startsWith("this server has no model to encode images"), e.getMessage());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      malformed JSON               | application/json | k=1         | {"id": 3,            | 400 | malformed JSON
      JSON not an object           | application/json |             | [1, 2, 3]            | 400 | not a JSON object
      unknown field                | application/json |             | {"id": 3, "kk": 1}   | 400 | unknown field 'kk'
      unknown parameter            | application/json | limit=3     | {"id": 3}            | 400 | unknown parameter 'limit'
      id in the query string       | image/png        | id=3        | x                    | 400 | unknown parameter 'id'
      repeated parameter           | image/png        | k=3&k=4     | x                    | 400 | 'k' is given twice
      bad percent-encoding         | image/png        | k=%zz       | x                    | 400 | malformed query string
      neither id nor code          | application/json |             | {"k": 3}             | 400 | needs id
      id and code                  | application/json |             | {"id": 3, "code": "00"} | 400 | either id
      id null                      | application/json |             | {"id": null}         | 400 | id must be the number
      id not a number              | application/json |             | {"id": "x1"}         | 400 | id must be a whole number
      k zero                       | application/json |             | {"id": 3, "k": 0}    | 400 | k must be in [1, 500] (got 0)
      k over the cap               | application/json |             | {"id": 3, "k": 100000} | 400 | k must be in
      k not a number               | application/json |             | {"id": 3, "k": "ten"} | 400 | k must be a JSON number, not a string
      k not a number in the query  | image/png        | k=ten       | x                    | 400 | whole number (got 'ten')
      pool below k                 | application/json |             | {"id": 3, "k": 20, "pool": 5} | 400 | pool must be in [20, 2000]
      radius over the code width   | application/json |             | {"id": 3, "radius": 49} | 400 | radius must be in [-1, 48]
      cap zero                     | image/png        | cap=0       | x                    | 400 | cap must be in [1, 2000]
      bad mode                     | application/json |             | {"id": 3, "mode": "fast"} | 400 | mode is hds
      mode a number                | application/json |             | {"id": 3, "mode": 1} | 400 | as a JSON string (got 1)
      code too short               | application/json |             | {"code": "abcd", "mode": "bcs"} | 400 | 12 hex digits
      code not hex                 | application/json |             | {"code": "zz0000000000", "mode": "bcs"} | 400 | found 'zz'
      hds without feature          | application/json |             | {"code": "000000000000"} | 400 | give feature
      feature not an array         | application/json |             | {"code": "000000000000", "feature": 1} | 400 | array of 4 numbers
      feature wrong length         | application/json |             | {"code": "000000000000", "feature": [1, 2]} | 400 | feature must have 4
      not an image                 | image/png        |             | this is not a png    | 400 | not an image
      empty upload                 | image/jpeg       |             |                      | 400 | empty
      octet stream, not an image   | application/octet-stream |     | abc                  | 400 | not an image
      text body                    | text/plain       |             | hello                | 415 | unsupported Content-Type 'text/plain'
      no content type              |                  |             | {"id": 1}            | 415 | unsupported Content-Type ''
      """)
  void badInputGetsAClearClientError(String name, String type, String query, String body, int status,
      String message) {
    ApiException e = refused(type, query, body);
    assertEquals(status, e.status(), name + ": " + e.getMessage());
    assertTrue(e.getMessage().contains(message), name + ": " + e.getMessage());
  }

  @Test
  void imageIdsAreDigitsOnly() {
    assertEquals(42, RequestParser.imageId("42"));
    assertEquals(-7, RequestParser.imageId("-7"));
    assertEquals(Long.MAX_VALUE, RequestParser.imageId("9223372036854775807"));
    assertEquals(Long.MIN_VALUE, RequestParser.imageId("-9223372036854775808"));
    for (String evil : new String[] {"", "-", "--1", "+1", "1e3", "..%2f..%2fetc%2fpasswd", "99999999999999999999",
        "4 2", "9223372036854775808", "-9223372036854775809"}) {
      ApiException e = assertThrows(ApiException.class, () -> RequestParser.imageId(evil), evil);
      assertEquals(400, e.status());
    }
    assertEquals("an image id is a 64-bit number, in [-9223372036854775808, 9223372036854775807] (got"
        + " 9223372036854775808)",
        assertThrows(ApiException.class, () -> RequestParser.imageId("9223372036854775808")).getMessage());
  }

  @Test
  void echoedInputIsShortAndPrintable() {
    assertEquals("a?b", RequestParser.safe("a\nb"));
    assertEquals("x".repeat(80) + "...", RequestParser.safe("x".repeat(200)));
    assertEquals("image/png", RequestParser.mediaType(" Image/PNG ; q=1"));
  }
}
