namespace Callern.Platform.Tests.Hardening;

/// <summary>Values no input of the platform should accept, or at least survive: the fuzz tests' vocabulary.</summary>
public static class BadValues
{
    /// <summary>Strings PostgreSQL cannot store or no field has a use for (NUL, controls, half a surrogate pair is added as raw JSON).</summary>
    public static readonly string[] Texts = ["\0", "a\0b", "\u0001", "x\u001b[31m", "\u0007bell", "\u0008"];

    /// <summary>Path segments and query values, already percent-encoded as they travel.</summary>
    public static readonly string[] UrlValues =
    [
        "AAAA", "%00", "a%00b", "%01", "%1B", "%ED%A0%80", "%FF%FE", "-1", "0", "99999999999999999999", "-9223372036854775808",
        "1e400", "NaN", "true", "null", "00000000-0000-0000-0000-000000000000", "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "%27%20OR%201%3D1%20--", "..%2F..%2Fetc", "%E2%80%AE", "2026-13-45T25:61:00Z", new string('z', 3000),
    ];

    /// <summary>
    /// As <see cref="UrlValues"/>, without NUL: Kestrel refuses a path holding one with its own 400
    /// before the platform runs, and the in-memory test server cannot even send it.
    /// </summary>
    public static readonly string[] PathValues = UrlValues.Where(v => !v.Contains("%00", StringComparison.Ordinal)).ToArray();

    /// <summary>Integers outside every range the API accepts, written as JSON.</summary>
    public static readonly string[] Integers =
    [
        "-9223372036854775808", "9223372036854775807", "9223372036854775808", "-2147483648", "2147483647", "1e400", "1.5", "-0.5", "1E+30",
    ];

    /// <summary>Decimals outside every range the API accepts, written as JSON.</summary>
    public static readonly string[] Numbers = ["1e400", "-1e400", "79228162514264337593543950336", "-79228162514264337593543950336", "1e-400"];

    public static readonly string[] MalformedJson = ["{", "{\"a\":", "nul", "{}}", "[1,", "\"open", "{\"x\":1,}", "\u0000", "", "{'a':1}", "{\"a\" 1}"];

    public static readonly string[] WrongTopLevel = ["[]", "\"text\"", "42", "true", "null", "[{}]"];
}
