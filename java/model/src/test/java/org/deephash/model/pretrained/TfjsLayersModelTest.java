package org.deephash.model.pretrained;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TfjsLayersModelTest {
  @TempDir
  Path dir;

  /** Two layers; weights: a float32 kernel, a uint8-quantized and a uint16-quantized vector, over two shards. */
  private static final String MODEL = """
      {"modelTopology":{"keras_version":"2.2.4","model_config":{"class_name":"Model","config":{"name":"m","layers":[
        {"name":"input_1","class_name":"InputLayer","config":{"batch_input_shape":[null,4,4,3]},"inbound_nodes":[]},
        {"name":"conv","class_name":"Conv2D","config":{"filters":2,"strides":[2,2],"use_bias":false},
         "inbound_nodes":[[["input_1",0,0,{}]]]},
        {"name":"bn","class_name":"BatchNormalization","config":{"epsilon":0.001},"inbound_nodes":[[["conv",0,0,{}]]]}
      ]}}},
      "weightsManifest":[{"paths":["group1-shard1of2","group1-shard2of2"],"weights":[
        {"name":"conv/kernel","shape":[1,1,3,2],"dtype":"float32"},
        {"name":"bn/gamma","shape":[4],"dtype":"float32","quantization":{"min":-1.0,"scale":0.5,"dtype":"uint8"}},
        {"name":"bn/beta","shape":[2],"dtype":"float32","quantization":{"min":0.25,"scale":0.001,"dtype":"uint16"}}
      ]}]}""";

  private static final float[] KERNEL = {0.5f, -1.25f, 3f, 1e-3f, -7f, 2.5f};

  /** The weight bytes: 6 float32, 4 uint8 codes (0, 1, 2, 255), 2 uint16 codes (0, 60000). */
  private static byte[] weightBytes() {
    ByteBuffer b = ByteBuffer.allocate(6 * 4 + 4 + 2 * 2).order(ByteOrder.LITTLE_ENDIAN);
    for (float f : KERNEL) {
      b.putFloat(f);
    }
    b.put((byte) 0).put((byte) 1).put((byte) 2).put((byte) 255);
    b.putShort((short) 0).putShort((short) 60000);
    return b.array();
  }

  private void writeStandard(byte[] bytes, int split) throws IOException {
    Files.writeString(dir.resolve("model.json"), MODEL);
    Files.write(dir.resolve("group1-shard1of2"), java.util.Arrays.copyOfRange(bytes, 0, split));
    Files.write(dir.resolve("group1-shard2of2"), java.util.Arrays.copyOfRange(bytes, split, bytes.length));
  }

  /** The bundled layout: a JavaScript module per file, minified (bare keys, leading-dot numbers). */
  private void writeScript(byte[] bytes, int split) throws IOException {
    String wrapper = "!function(e){if(\"object\"==typeof exports&&\"undefined\"!=typeof module)module.exports=e();"
        + "else{(this).model=e()}}(function(){return function e(a,n,i){return 1}({1:[function(e,a,n){a.exports=";
    String literal = MODEL.replace("\"modelTopology\"", "modelTopology").replace("\"weightsManifest\"",
        "weightsManifest").replace("\"min\":0.25", "min:.25").replace("\"scale\":0.001", "scale:.001")
        .replace("\"use_bias\":false", "use_bias:!1");
    Files.writeString(dir.resolve("model.min.js"), wrapper + literal + "},{}]},{},[1])(1)});");
    for (int s = 0; s < 2; s++) {
      byte[] part = s == 0 ? java.util.Arrays.copyOfRange(bytes, 0, split)
          : java.util.Arrays.copyOfRange(bytes, split, bytes.length);
      Files.writeString(dir.resolve("group1-shard" + (s + 1) + "of2.min.js"),
          wrapper + "\"" + Base64.getEncoder().encodeToString(part) + "\"},{}]},{},[1])(1)});");
    }
  }

  private static void assertDecoded(TfjsLayersModel m) {
    assertEquals(List.of("input_1", "conv", "bn"), m.layers().stream().map(TfjsLayersModel.Layer::name).toList());
    assertEquals("Conv2D", m.layer("conv").className());
    assertEquals(List.of("conv"), m.layer("bn").inputs());
    assertEquals(Boolean.FALSE, m.layer("conv").config().get("use_bias"));
    assertArrayEquals(KERNEL, m.weight("conv/kernel", 1, 1, 3, 2).values());
    assertArrayEquals(new float[] {-1f, -0.5f, 0f, 126.5f}, m.weight("bn/gamma", 4).values());
    assertArrayEquals(new float[] {0.25f, (float) (0.25 + 0.001 * 60000)}, m.weight("bn/beta", 2).values());
  }

  @Test
  void readsStandardLayoutAcrossShards() throws IOException {
    writeStandard(weightBytes(), 10); // the split falls inside a float: shards are one byte stream
    assertDecoded(TfjsLayersModel.read(dir));
  }

  @Test
  void readsBundledScriptLayout() throws IOException {
    writeScript(weightBytes(), 25);
    assertDecoded(TfjsLayersModel.read(dir));
  }

  @Test
  void weightLookupNamesWhatDiffers() throws IOException {
    writeStandard(weightBytes(), 10);
    TfjsLayersModel m = TfjsLayersModel.read(dir);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.weight("conv/kernel", 3, 3));
    assertTrue(e.getMessage().contains("[1, 1, 3, 2]"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> m.weight("nope", 1));
    assertThrows(IllegalArgumentException.class, () -> m.layer("nope"));
  }

  @Test
  void truncatedOrOversizedShardsAreRefused() throws IOException {
    byte[] b = weightBytes();
    writeStandard(java.util.Arrays.copyOf(b, b.length - 1), 10);
    IOException e = assertThrows(IOException.class, () -> TfjsLayersModel.read(dir));
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    byte[] longer = java.util.Arrays.copyOf(b, b.length + 3);
    writeStandard(longer, 10);
    e = assertThrows(IOException.class, () -> TfjsLayersModel.read(dir));
    assertTrue(e.getMessage().contains("3 bytes more"), e.getMessage());
  }

  @Test
  void missingPiecesAndUnsupportedFormatsAreNamed() throws IOException {
    assertThrows(java.nio.file.NoSuchFileException.class, () -> TfjsLayersModel.read(dir));
    writeScript(weightBytes(), 25);
    Files.delete(dir.resolve("group1-shard2of2.min.js"));
    assertThrows(java.nio.file.NoSuchFileException.class, () -> TfjsLayersModel.read(dir));
    Files.delete(dir.resolve("model.min.js"));
    writeStandard(weightBytes(), 10);
    Files.writeString(dir.resolve("model.json"), MODEL.replace("\"uint16\"", "\"float16\""));
    IOException e = assertThrows(IOException.class, () -> TfjsLayersModel.read(dir));
    assertTrue(e.getMessage().contains("float16"), e.getMessage());
    Files.writeString(dir.resolve("model.json"), MODEL.replace("group1-shard2of2", "../secret"));
    e = assertThrows(IOException.class, () -> TfjsLayersModel.read(dir));
    assertTrue(e.getMessage().contains("leaves the model folder"), e.getMessage());
    Files.writeString(dir.resolve("model.json"), "{\"modelTopology\":{}}");
    e = assertThrows(IOException.class, () -> TfjsLayersModel.read(dir));
    assertTrue(e.getMessage().contains("model_config"), e.getMessage());
  }

  @Test
  void scriptThatRunsCodeIsNotRead() throws IOException {
    Files.writeString(dir.resolve("model.min.js"), "module.exports=require('fs').readFileSync('x');");
    IOException e = assertThrows(IOException.class, () -> TfjsLayersModel.read(dir));
    assertTrue(e.getMessage().contains("not a data literal"), e.getMessage());
  }
}
