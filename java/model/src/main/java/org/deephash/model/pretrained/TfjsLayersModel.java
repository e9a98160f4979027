package org.deephash.model.pretrained;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deephash.io.Json;

/**
 * Reads a TensorFlow.js layers model: the Keras topology and the weights, dequantized to float.
 *
 * <p>Two layouts are read. The standard one is a {@code model.json} next to binary weight shards.
 * The bundled one is what packages such as nsfwjs ship: {@code model.min.js} (or {@code model.js}),
 * a JavaScript module whose export is the same document as an object literal, and one module per
 * shard ({@code group1-shard1of1.min.js}) whose export is the shard's bytes in base64. Nothing is
 * executed: the literal is parsed as data ({@link Json#parseScriptLiteral}).
 *
 * <p>Weights are stored in manifest order, concatenated across a group's shards. A weight without
 * {@code quantization} is little-endian float32; a quantized one is {@code uint8} or {@code uint16}
 * with {@code value = min + scale * q} (affine quantization, as the TF.js converter writes it).
 */
public final class TfjsLayersModel {
  /** One Keras layer of the topology: its class, name, config and the names of the layers it reads. */
  public record Layer(String className, String name, Map<String, Object> config, List<String> inputs) {}

  /** One weight: row-major values (Keras layout) and its shape. */
  public record Weight(String name, int[] shape, float[] values) {
    public int size() {
      return values.length;
    }
  }

  private final List<Layer> layers;
  private final Map<String, Weight> weights;

  private TfjsLayersModel(List<Layer> layers, Map<String, Weight> weights) {
    this.layers = Collections.unmodifiableList(layers);
    this.weights = Collections.unmodifiableMap(weights);
  }

  public List<Layer> layers() {
    return layers;
  }

  public Map<String, Weight> weights() {
    return weights;
  }

  /** The layer called {@code name}; throws saying which model lacks it. */
  public Layer layer(String name) {
    for (Layer l : layers) {
      if (l.name().equals(name)) {
        return l;
      }
    }
    throw new IllegalArgumentException("the TF.js model has no layer '" + name + "'");
  }

  /** The weight called {@code name} with the given shape; throws naming what differs. */
  public Weight weight(String name, int... shape) {
    Weight w = weights.get(name);
    if (w == null) {
      throw new IllegalArgumentException("the TF.js model has no weight '" + name + "'");
    }
    if (!Arrays.equals(w.shape(), shape)) {
      throw new IllegalArgumentException("weight '" + name + "' has shape " + Arrays.toString(w.shape())
          + ", expected " + Arrays.toString(shape));
    }
    return w;
  }

  /**
   * Reads the model in {@code dir}: {@code model.json} with binary shards, or {@code model.min.js} /
   * {@code model.js} with base64 shard modules.
   */
  public static TfjsLayersModel read(Path dir) throws IOException {
    Path json = dir.resolve("model.json");
    if (Files.isRegularFile(json)) {
      return build(parseJson(json), path -> Files.readAllBytes(dir.resolve(path)), json);
    }
    for (String name : List.of("model.min.js", "model.js")) {
      Path js = dir.resolve(name);
      if (Files.isRegularFile(js)) {
        return build(exportedLiteral(js), path -> shardModule(dir, path), js);
      }
    }
    throw new NoSuchFileException(dir.toString(), null,
        "no TF.js layers model here (expected model.json, model.min.js or model.js)");
  }

  private interface ShardReader {
    byte[] read(String path) throws IOException;
  }

  private static Object parseJson(Path file) throws IOException {
    try {
      return Json.parse(Files.readString(file, StandardCharsets.UTF_8));
    } catch (IllegalArgumentException e) {
      throw new IOException(file + ": " + e.getMessage(), e);
    }
  }

  /** The literal after the module's {@code exports=}. */
  private static Object exportedLiteral(Path js) throws IOException {
    String text = Files.readString(js, StandardCharsets.UTF_8);
    int at = exportsAt(text, js);
    try {
      return Json.parseScriptLiteral(text, at).value();
    } catch (IllegalArgumentException e) {
      throw new IOException(js + ": the exported model is not a data literal (" + e.getMessage() + ")", e);
    }
  }

  private static int exportsAt(String text, Path js) throws IOException {
    // the bundler's wrapper mentions module.exports in its prologue; the payload is the last assignment
    int at = text.lastIndexOf("exports=");
    if (at < 0) {
      throw new IOException(js + " does not export a value (no 'exports=' found): not a TF.js model module");
    }
    return at + "exports=".length();
  }

  private static byte[] shardModule(Path dir, String path) throws IOException {
    for (String suffix : List.of(".min.js", ".js")) {
      Path js = dir.resolve(path + suffix);
      if (Files.isRegularFile(js)) {
        String text = Files.readString(js, StandardCharsets.ISO_8859_1);
        int at = exportsAt(text, js);
        if (at >= text.length() || text.charAt(at) != '"') {
          throw new IOException(js + ": the export is not a base64 string");
        }
        int end = text.indexOf('"', at + 1);
        if (end < 0) {
          throw new IOException(js + ": the base64 string is not terminated (truncated file?)");
        }
        try {
          return Base64.getDecoder().decode(text.substring(at + 1, end));
        } catch (IllegalArgumentException e) {
          throw new IOException(js + ": the shard is not valid base64 (" + e.getMessage() + ")", e);
        }
      }
    }
    throw new NoSuchFileException(dir.resolve(path + ".min.js").toString(), null, "weight shard module missing");
  }

  private static TfjsLayersModel build(Object document, ShardReader shards, Path source) throws IOException {
    try {
      Map<String, Object> doc = asMap(document, "the document");
      List<Layer> layers = topology(doc);
      Map<String, Weight> weights = new LinkedHashMap<>();
      for (Object g : asList(doc.get("weightsManifest"), "weightsManifest")) {
        Map<String, Object> group = asMap(g, "a weightsManifest group");
        ByteBuffer bytes = concat(shards, asList(group.get("paths"), "paths"));
        for (Object o : asList(group.get("weights"), "weights")) {
          Weight w = weight(asMap(o, "a weight entry"), bytes);
          if (weights.put(w.name(), w) != null) {
            throw new IllegalArgumentException("weight '" + w.name() + "' is listed twice");
          }
        }
        if (bytes.hasRemaining()) {
          throw new IllegalArgumentException("the shards hold " + bytes.remaining()
              + " bytes more than the manifest's weights (wrong shard files?)");
        }
      }
      return new TfjsLayersModel(layers, weights);
    } catch (IllegalArgumentException | ClassCastException e) {
      throw new IOException(source + ": not a TF.js layers model: " + e.getMessage(), e);
    }
  }

  private static List<Layer> topology(Map<String, Object> doc) {
    Map<String, Object> topology = asMap(doc.get("modelTopology"), "modelTopology");
    Map<String, Object> model = asMap(topology.get("model_config"), "modelTopology.model_config");
    Map<String, Object> config = asMap(model.get("config"), "model_config.config");
    List<Layer> out = new ArrayList<>();
    for (Object o : asList(config.get("layers"), "model_config.config.layers")) {
      Map<String, Object> l = asMap(o, "a layer");
      List<String> inputs = new ArrayList<>();
      Object nodes = l.get("inbound_nodes");
      if (nodes instanceof List<?> list && !list.isEmpty()) {
        for (Object in : asList(list.get(0), "inbound_nodes[0]")) {
          inputs.add(String.valueOf(asList(in, "an inbound node").get(0)));
        }
      }
      out.add(new Layer(String.valueOf(l.get("class_name")), String.valueOf(l.get("name")),
          asMap(l.get("config"), "a layer config"), List.copyOf(inputs)));
    }
    return out;
  }

  private static ByteBuffer concat(ShardReader shards, List<Object> paths) throws IOException {
    List<byte[]> parts = new ArrayList<>();
    long total = 0;
    for (Object p : paths) {
      String path = String.valueOf(p);
      if (path.contains("..") || path.startsWith("/")) {
        throw new IllegalArgumentException("shard path '" + path + "' leaves the model folder");
      }
      byte[] b = shards.read(path);
      parts.add(b);
      total += b.length;
    }
    if (total > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("a weight group over 2 GiB");
    }
    ByteBuffer all = ByteBuffer.allocate((int) total).order(ByteOrder.LITTLE_ENDIAN);
    for (byte[] b : parts) {
      all.put(b);
    }
    return all.flip();
  }

  private static Weight weight(Map<String, Object> entry, ByteBuffer bytes) {
    String name = String.valueOf(entry.get("name"));
    List<Object> dims = asList(entry.get("shape"), "the shape of " + name);
    int[] shape = new int[dims.size()];
    long n = 1;
    for (int i = 0; i < shape.length; i++) {
      double d = ((Number) dims.get(i)).doubleValue();
      if (d < 0 || d != Math.rint(d) || d > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("weight '" + name + "' has a bad dimension " + d);
      }
      shape[i] = (int) d;
      n *= shape[i];
    }
    if (n > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("weight '" + name + "' is too large");
    }
    String dtype = String.valueOf(entry.get("dtype"));
    if (!dtype.equals("float32")) {
      throw new IllegalArgumentException("weight '" + name + "' is " + dtype + "; only float32 weights are read");
    }
    float[] v = new float[(int) n];
    Object q = entry.get("quantization");
    if (q == null) {
      need(bytes, 4L * n, name);
      bytes.asFloatBuffer().get(v);
      bytes.position(bytes.position() + 4 * v.length);
    } else {
      Map<String, Object> quant = asMap(q, "the quantization of " + name);
      String qtype = String.valueOf(quant.get("dtype"));
      if (!(quant.get("min") instanceof Number min) || !(quant.get("scale") instanceof Number scale)) {
        throw new IllegalArgumentException("weight '" + name + "' is quantized without min and scale");
      }
      int width = switch (qtype) {
        case "uint8" -> 1;
        case "uint16" -> 2;
        default -> throw new IllegalArgumentException("weight '" + name + "' uses " + qtype
            + " quantization; uint8 and uint16 are read");
      };
      need(bytes, (long) width * n, name);
      double m = min.doubleValue();
      double s = scale.doubleValue();
      for (int i = 0; i < v.length; i++) {
        int code = width == 1 ? Byte.toUnsignedInt(bytes.get()) : Short.toUnsignedInt(bytes.getShort());
        v[i] = (float) (m + s * code);
      }
    }
    return new Weight(name, shape, v);
  }

  private static void need(ByteBuffer bytes, long n, String name) {
    if (bytes.remaining() < n) {
      throw new IllegalArgumentException("the shards end inside weight '" + name + "' (need " + n + " bytes, "
          + bytes.remaining() + " left): a shard is truncated or missing");
    }
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> asMap(Object o, String what) {
    if (!(o instanceof Map)) {
      throw new IllegalArgumentException(what + " is missing or not an object");
    }
    return (Map<String, Object>) o;
  }

  @SuppressWarnings("unchecked")
  private static List<Object> asList(Object o, String what) {
    if (!(o instanceof List)) {
      throw new IllegalArgumentException(what + " is missing or not a list");
    }
    return (List<Object>) o;
  }
}
