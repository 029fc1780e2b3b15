import { describe, expect, it } from "vitest";
import { fieldErrors, problemMessage, submissionErrorLocation, toProblem } from "./problem";

describe("problems", () => {
  it("reads line and column from the members of a CSV syntax error", () => {
    const p = toProblem(422, {
      code: "submission_invalid",
      detail: 'line 2, column "Survived": quoted field is not closed before the end of the file',
      line: 2,
      column: "Survived",
      status: 422,
    });
    expect(submissionErrorLocation(p)).toEqual({ line: 2, column: "Survived" });
  });

  it("reads line and column from the detail when there are no members", () => {
    const p = toProblem(422, { code: "submission_invalid", detail: 'line 3, column "Survived": not an integer' });
    expect(submissionErrorLocation(p)).toEqual({ line: 3, column: "Survived" });
    expect(submissionErrorLocation(toProblem(422, { code: "x", detail: "line 7: too many fields" }))).toEqual({
      line: 7,
      column: null,
    });
    expect(submissionErrorLocation(toProblem(429, { code: "submission_cap_reached", detail: "cap reached" }))).toBeNull();
  });

  it("keys field errors by the last loc element and lists them for generic validation errors", () => {
    const p = toProblem(422, {
      code: "request_validation_failed",
      detail: "The request body or parameters are invalid.",
      errors: [{ loc: ["body", "email"], msg: "must be an email address", type: "value_error.email" }],
    });
    expect(fieldErrors(p)).toEqual({ email: "must be an email address" });
    expect(problemMessage(p)).toBe("The request body or parameters are invalid. email: must be an email address");
    const q = toProblem(401, { code: "invalid_credentials", detail: "Wrong email or password." });
    expect(problemMessage(q)).toBe("Wrong email or password.");
  });

  it("makes a problem out of non-problem answers", () => {
    expect(toProblem(502, "<html>Bad gateway</html>").detail).toBe("Request failed with HTTP 502.");
    expect(toProblem(0, null).detail).toMatch(/could not be reached/);
    expect(toProblem(500, { status: 500, detail: "boom" }).status).toBe(500);
  });
});
