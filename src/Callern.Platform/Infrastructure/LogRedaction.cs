using System.Text.RegularExpressions;

namespace Callern.Platform.Infrastructure;

/// <summary>
/// What no log line may carry, whatever logs it and at whatever level: access tokens (JWTs, in a
/// header or an <c>access_token</c> query value), API key secrets, the operator key, TURN secrets and
/// credentials, and signed download links. Applied to every message, structured value, scope and
/// exception text by <see cref="RedactingLoggerFactory"/>, so neither a log level nor a new log call
/// can let one through.
/// </summary>
public sealed partial class LogRedaction
{
    public const string Redacted = "[redacted]";

    private readonly string[] _secrets;

    /// <param name="secrets">Exact values known from configuration (the operator key, TURN secrets); short ones are ignored.</param>
    public LogRedaction(IEnumerable<string?> secrets) =>
        _secrets = secrets.Where(s => s is { Length: >= 8 }).Select(s => s!).Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>The configured secrets the redaction removes by value, wherever they appear.</summary>
    public static LogRedaction FromConfiguration(IConfiguration configuration) =>
        new(configuration.GetSection("Callern:Turn:Secrets").GetChildren().Select(c => c.Value).Append(configuration["Callern:OperatorKey"]));

    public string Redact(string text)
    {
        foreach (var secret in _secrets)
        {
            if (text.Contains(secret, StringComparison.Ordinal))
            {
                text = text.Replace(secret, Redacted, StringComparison.Ordinal);
            }
        }
        return Sensitive().Replace(text, match => match.Groups["keep"].Value + Redacted);
    }

    /// <summary>
    /// In order: a JWT anywhere; a credential-bearing query parameter; the token of a signed download
    /// link (<c>/v1/files/{token}</c>); an Authorization header value; an API key secret (<c>cs_…</c>); a webhook signing secret (<c>whsec_…</c>);
    /// a credential in JSON (<c>"credential": "…"</c>, <c>"secret"</c>, <c>"token"</c>, <c>"password"</c>…).
    /// </summary>
    [GeneratedRegex("""
        eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*
        | (?<keep>[?&;](?:access_token|token|id_token|key|secret|signature|sig|password|credential)=)[^&\s"']*
        | (?<keep>/v1/files/)[^/?#\s"']+
        | (?<keep>\b(?:Bearer|Basic)\s+)[A-Za-z0-9_\-\.~+/=:]+
        | \bcs_[A-Za-z0-9_\-]{16,}
        | \bwhsec_[A-Za-z0-9+/=]{16,}
        | (?<keep>"(?:credential|secret|apiKeySecret|accessToken|token|password)"\s*:\s*)"[^"]*"
        """, RegexOptions.IgnorePatternWhitespace | RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex Sensitive();
}
