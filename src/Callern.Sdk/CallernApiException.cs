using System.Text.Json;

namespace Callern.Sdk;

/// <summary>The generated REST client's error, with the platform's problem code.</summary>
public partial class CallernApiException
{
    /// <summary>The platform's refusal of a browser origin the caller's school does not list (403).</summary>
    public const string OriginNotAllowed = "origin_not_allowed";

    /// <summary>
    /// The <c>code</c> of the problem details the platform answered (<c>origin_not_allowed</c>,
    /// <c>no_minutes</c>, …), or null when it gave none. A platform that could not be reached throws
    /// <see cref="HttpRequestException"/> instead, never this exception.
    /// </summary>
    public string? Code
    {
        get
        {
            if (string.IsNullOrEmpty(Response))
            {
                return null;
            }
            try
            {
                using var problem = JsonDocument.Parse(Response);
                return problem.RootElement.ValueKind == JsonValueKind.Object
                    && problem.RootElement.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String
                    ? code.GetString()
                    : null;
            }
            catch (JsonException)
            {
                return null;
            }
        }
    }
}
