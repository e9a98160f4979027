package org.deephash.serve;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.deephash.CodeTable;
import org.deephash.index.LoadedIndex;
import org.deephash.io.Json;
import org.deephash.model.net.HashNetConfig;

/**
 * The JSON answers of the HTTP API (docs/SERVE.md describes every field): a search's results with
 * what the index knows of each row (id, path, label and its class name), the error object, and
 * {@code /stats}. Pure: it reads the generation an answer was computed on and the model's class
 * names, and sends nothing.
 */
final class ResponseRenderer {
  /** Ids of this magnitude and more are written as strings: a JSON number (a double) cannot hold them exactly. */
  static final double EXACT_JSON_INTEGER = 0x1p53;

  private final HashNetConfig model;
  private final java.util.function.Supplier<String> fineStage;

  /**
   * @param model the model that names the classes, or null (labels are then shown as numbers)
   * @param fineStage the fine stage HDS answers were re-ordered by, named in their JSON
   */
  ResponseRenderer(HashNetConfig model, java.util.function.Supplier<String> fineStage) {
    this.model = model;
    this.fineStage = fineStage;
  }

  /** Time spent before the engine (reading and decoding the request) and in all. */
  record Timings(double decodeMs, double totalMs) {}

  /**
   * A search's answer, with every row read from the generation the answer was computed on.
   */
  Json search(SearchRequest request, SearchService.Query q, SearchService.Answer a, Timings t) {
    return search(request, q, a, null, t);
  }

  /**
   * As {@link #search(SearchRequest, SearchService.Query, SearchService.Answer, Timings)}, with the
   * inlier count of each result against the query ({@link Verifier}) when known (else null).
   */
  Json search(SearchRequest request, SearchService.Query q, SearchService.Answer a, int[] inliers, Timings t) {
    return search(request, q, a, inliers, null, t);
  }

  /**
   * As {@link #search(SearchRequest, SearchService.Query, SearchService.Answer, int[], Timings)}, for
   * a verified upload: {@code uploadKey} (else null) goes in the query as {@code upload_key}, the name
   * of the upload in {@code /matches/upload-{key}/{id}}.
   */
  Json search(SearchRequest request, SearchService.Query q, SearchService.Answer a, int[] inliers, String uploadKey,
      Timings t) {
    IndexGeneration gen = a.generation();
    LoadedIndex index = gen.index();
    CodeTable table = index.table();
    Json query = new Json();
    switch (request.source()) {
      case SearchRequest.ById byId -> query.put("source", "id").put("id", id(byId.id()));
      case SearchRequest.ByCode c -> query.put("source", "code");
      case SearchRequest.ByImage img -> {
        query.put("source", "upload").put("width", img.width()).put("height", img.height());
        if (uploadKey != null) {
          query.put("upload_key", uploadKey);
        }
      }
    }
    if (a.predicted() >= 0) {
      query.put("predicted", label(a.predicted())).put("confidence", Json.round(a.confidence(), 4));
    }
    if (a.queryRow() >= 0) {
      int known = table.hasLabels() ? table.label(a.queryRow()) : -1;
      if (known >= 0) {
        query.put("label", known).put("label_name", label(known));
      }
      query.put("image", "/images/" + table.id(a.queryRow()))
          .put("thumb", "/thumbs/" + table.id(a.queryRow()) + "?size=480");
      if (index.hasPaths()) {
        query.put("path", index.path(a.queryRow()));
      }
    }
    List<Object> results = new ArrayList<>(a.rows().length);
    for (int r = 0; r < a.rows().length; r++) {
      int row = a.rows()[r];
      Json res = new Json().put("rank", r + 1).put("id", id(table.id(row)));
      if (index.hasPaths()) {
        res.put("path", index.path(row));
      }
      if (table.hasLabels()) {
        res.put("label", table.label(row)).put("label_name", label(table.label(row)));
      }
      res.put("hamming", a.hamming()[r]);
      if (a.euclidean() != null) {
        res.put("euclidean", Json.round(a.euclidean()[r], 5));
      }
      if (inliers != null) {
        res.put("inliers", inliers[r]);
      }
      res.put("image", "/images/" + table.id(row)).put("thumb", "/thumbs/" + table.id(row));
      results.add(res);
    }
    Map<String, Object> timings = new LinkedHashMap<>();
    timings.put("decode", Json.round(t.decodeMs(), 3));
    timings.put("queue", Json.round(a.queueMs(), 3));
    timings.put("encode", Json.round(a.encodeMs(), 3));
    timings.put("search", Json.round(a.searchMs(), 3));
    timings.put("total", Json.round(t.totalMs(), 3));
    Json out = new Json().put("query", query).put("mode", q.mode().name().toLowerCase(Locale.ROOT)).put("k", q.k());
    if (q.radius() >= 0) {
      out.put("radius", q.radius()).put("cap", q.cap()).put("truncated", a.truncated());
    } else if (q.mode() == SearchService.Mode.HDS) {
      out.put("pool", q.pool());
    }
    if (q.mode() == SearchService.Mode.HDS) {
      out.put("fine_stage", fineStage.get());
    }
    return out.put("backend", gen.search().backendName()).put("generation", gen.number())
        .put("batch_size", a.batchSize()).put("timings_ms", timings).put("results", results);
  }

  /** An id as JSON: a number below 2^53 in magnitude, else its decimal string (a double would round it). */
  static Object id(long id) {
    return Math.abs((double) id) < EXACT_JSON_INTEGER ? (Object) id : Long.toString(id);
  }

  /** What every refusal looks like: {@code {"error": ..., "status": N}}. */
  static Json error(int status, String message) {
    return new Json().put("error", message).put("status", status);
  }

  /**
   * {@code GET /stats}.
   *
   * @param gen the generation being served (acquired by the caller)
   * @param batches batches run, queries they held, the largest batch ({@link SearchService#batchStats})
   * @param reloads the reload counts, or null when the index file is not watched
   * @param connections the connection counts
   * @param decode the decode budget's counts
   */
  Json stats(IndexGeneration gen, SearchStats queries, long[] batches, Json reloads, Json connections, Json decode,
      ServeConfig config, double uptimeS) {
    CodeTable t = gen.table();
    Json idx = new Json().put("generation", gen.number())
        .put("file", gen.file() == null ? null : gen.file().toString())
        .put("loaded_at", gen.loadedAt().toString()).put("rows", t.liveCount()).put("bits", t.bits())
        .put("dim", t.dim()).put("labels", t.hasLabels()).put("paths", gen.index().hasPaths())
        .put("photos", gen.images().photos() == null ? null : new Json()
            .put("root", gen.images().photos().root().toString()).put("indexed", gen.images().photos().photos())
            .put("skipped", gen.images().photos().skipped().size()));
    Json m = model == null ? null : new Json().put("bits", model.bits()).put("input", model.height() + "x"
        + model.width() + "x" + model.channels()).put("classes", model.classNames());
    Json b = new Json().put("count", batches[0]).put("queries", batches[1])
        .put("mean_size", batches[0] == 0 ? 0.0 : Json.round((double) batches[1] / batches[0], 2))
        .put("max_size", batches[2]);
    return new Json().put("index", idx).put("reloads", reloads).put("model", m)
        .put("backend", gen.search().backendName()).put("device", gen.search().device())
        .put("queries", queries.counts()).put("latency_ms", queries.latency()).put("batches", b)
        .put("connections", connections).put("decode", decode)
        .put("limits", new Json().put("max_k", config.maxK()).put("max_pool", config.maxPool())
            .put("max_body_bytes", config.maxBodyBytes()).put("max_image_side", config.maxImageSide())
            .put("max_image_pixels", config.maxImagePixels()).put("timeout_ms", config.timeoutMs())
            .put("idle_timeout_ms", config.idleTimeoutMs()).put("request_timeout_ms", config.requestTimeoutMs())
            .put("max_connections", config.maxConnections()).put("decode_budget_bytes", config.decodeBudgetBytes())
            .put("reload_check_ms", config.reloadCheckMs()))
        .put("uptime_s", Json.round(uptimeS, 1));
  }

  /** A class's name when the model has one, else the number. */
  String label(int l) {
    return model != null && l >= 0 && l < model.classes() ? model.classNames().get(l) : Integer.toString(l);
  }
}
