namespace Callern.Samples.SchoolBackend;

/// <summary>What the school's server knows about Callern: where it is and the school's API key.</summary>
public sealed class CallernOptions
{
    /// <summary>The platform's base URL, as the browsers reach it.</summary>
    public string BaseUrl { get; set; } = "";
    /// <summary>The API key id (<c>ck_…</c>).</summary>
    public string ApiKeyId { get; set; } = "";
    /// <summary>The API key secret (<c>cs_…</c>): stays on this server, signs access tokens.</summary>
    public string ApiKeySecret { get; set; } = "";
    /// <summary>Where Callern reaches this server's webhook receiver (<c>…/callern/webhooks</c>); unset: no receipts.</summary>
    public string? WebhookUrl { get; set; }
    /// <summary>How long the access tokens handed to the browsers live.</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromMinutes(15);
}

/// <summary>Where the built web apps are (each one's <c>dist/</c> folder); unset ones are not served.</summary>
public sealed class WebAppOptions
{
    public string? StudentRoot { get; set; }
    public string? TeacherRoot { get; set; }
}
