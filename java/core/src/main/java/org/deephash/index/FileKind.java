package org.deephash.index;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The kinds of deephash file, each a schema over the one sectioned container ({@link SectionFile}):
 * the 4-letter tag in a file's header says which, so opening a file of another kind can say what
 * it is and what reads it (one dispatch, as FAISS's {@code read_index} does on its fourcc).
 *
 * <p>Each kind also remembers the version-1 layout it had before the container existed (its own
 * magic bytes and section numbering), so version-1 files still open.
 */
public enum FileKind {
  /** A {@link org.deephash.CodeTable} saved by {@link IndexFile}. */
  CODE_TABLE("CTAB", "a code-table index",
      "open it with IndexFile.open, or search it with `engine-cli search --index FILE`",
      "write one with `engine-cli import` or IndexFile.save",
      new byte[] {(byte) 0x89, 'D', 'H', 'X', '\r', '\n', 0x1A, '\n'}, 64, 36,
      List.of("codes", "ids", "features", "labels", "tombstones", "paths")),
  /** An IVF-PQ index of local descriptors ({@code org.deephash.pq.IvfPqIndex}, module deephash-pq). */
  IVF_PQ("IVPQ", "an IVF-PQ index of DELF local descriptors",
      "it is the descriptors.dhq of a DELF index folder: query the folder with `engine-cli delf query --index DIR`",
      "write one with `engine-cli delf index` or IvfPqIndex.save",
      new byte[] {(byte) 0x89, 'D', 'H', 'Q', '\r', '\n', 0x1A, '\n'}, 72, 64,
      List.of("coarse", "pq", "offsets", "ids", "codes", "images", "xy"));

  private final String tag;
  private final String description;
  private final String howToOpen;
  private final String howToMake;
  private final byte[] v1Magic;
  private final int v1FixedHeader;
  private final int v1SectionCountOffset;
  private final List<String> v1Sections;

  FileKind(String tag, String description, String howToOpen, String howToMake, byte[] v1Magic, int v1FixedHeader,
      int v1SectionCountOffset, List<String> v1Sections) {
    this.tag = tag;
    this.description = description;
    this.howToOpen = howToOpen;
    this.howToMake = howToMake;
    this.v1Magic = v1Magic;
    this.v1FixedHeader = v1FixedHeader;
    this.v1SectionCountOffset = v1SectionCountOffset;
    this.v1Sections = v1Sections;
  }

  /** The four ASCII letters stored at byte 8 of the header. */
  public String tag() {
    return tag;
  }

  /** What such a file is, for messages: "a code-table index". */
  public String description() {
    return description;
  }

  /** What reads such a file, for messages. */
  public String howToOpen() {
    return howToOpen;
  }

  /** How such a file is made, for messages about a file that is not one. */
  public String howToMake() {
    return howToMake;
  }

  int tagWord() {
    byte[] b = tag.getBytes(StandardCharsets.US_ASCII);
    return (b[0] & 0xff) | (b[1] & 0xff) << 8 | (b[2] & 0xff) << 16 | (b[3] & 0xff) << 24;
  }

  static FileKind ofTag(int word) {
    for (FileKind k : values()) {
      if (k.tagWord() == word) {
        return k;
      }
    }
    return null;
  }

  byte[] v1Magic() {
    return v1Magic;
  }

  /** Bytes of the version-1 fixed header (before its section table). */
  int v1FixedHeader() {
    return v1FixedHeader;
  }

  int v1SectionCountOffset() {
    return v1SectionCountOffset;
  }

  /** Version-1 section kind k (1-based) is {@code v1Sections().get(k - 1)}. */
  List<String> v1Sections() {
    return v1Sections;
  }
}
