using Microsoft.AspNetCore.SignalR;

namespace Callern.Platform.Signaling;

/// <summary>
/// Stable error codes of hub methods (docs/realtime.md). A <see cref="HubException"/> is the only
/// exception whose message reaches the client; it arrives as
/// "... HubException: &lt;code&gt;: &lt;text&gt;", so clients branch on the code, never on the text.
/// </summary>
public static class HubErrors
{
    /// <summary>The connection sent more invocations than its token bucket allows; wait and retry.</summary>
    public const string RateLimited = "rate_limited";
    /// <summary>The caller's role may not call this method.</summary>
    public const string Forbidden = "forbidden";
    /// <summary>An argument is outside what the method accepts.</summary>
    public const string InvalidArgument = "invalid_argument";
    /// <summary>The node is overloaded (no database connection free in time); nothing changed, retry shortly.</summary>
    public const string Unavailable = "unavailable";

    public static HubException Create(string code, string message) => new($"{code}: {message}");
}
