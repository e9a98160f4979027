package org.deephash.serve;

/** A request the service refuses: an HTTP status (4xx for the caller's input, 503 when busy) and a message that says what to fix. */
public final class ApiException extends RuntimeException {
  private final int status;

  public ApiException(int status, String message) {
    super(message);
    this.status = status;
  }

  public int status() {
    return status;
  }

  static ApiException badRequest(String message) {
    return new ApiException(400, message);
  }
}
