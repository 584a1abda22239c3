namespace Callern.Platform.Turn;

/// <summary>
/// <c>Callern:Turn</c>: the coturn servers the platform hands out and the secrets they share.
/// Every coturn server lists all <see cref="Secrets"/> as <c>static-auth-secret</c> lines.
/// </summary>
public sealed class TurnOptions
{
    /// <summary>Shared TURN REST secrets: the first signs new credentials, the others are only kept in coturn while a rotation finishes.</summary>
    public List<string> Secrets { get; set; } = [];

    /// <summary>stun:, turn: and turns: URLs handed to clients, e.g. turn:turn.example:3478?transport=udp.</summary>
    public List<string> Urls { get; set; } = [];

    public bool IsConfigured => Secrets.Count > 0 && Urls.Count > 0;

    /// <summary>Start-up check: a wrong value should stop the node, not fail every call later.</summary>
    public IEnumerable<string> Problems()
    {
        if (Secrets.Count > 0 != Urls.Count > 0)
        {
            yield return "Callern:Turn needs both Secrets and Urls, or neither.";
        }
        foreach (var secret in Secrets.Where(s => string.IsNullOrWhiteSpace(s) || s.Length < 16))
        {
            yield return "Callern:Turn:Secrets: every secret needs at least 16 characters.";
        }
        foreach (var url in Urls.Where(u => !u.StartsWith("turn:", StringComparison.Ordinal)
            && !u.StartsWith("turns:", StringComparison.Ordinal) && !u.StartsWith("stun:", StringComparison.Ordinal)))
        {
            yield return $"Callern:Turn:Urls: '{url}' is not a stun:, turn: or turns: URL.";
        }
    }
}
