using System.Net;
using System.Net.Http.Json;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;

namespace Callern.Platform.Tests.Webhooks;

/// <summary>The endpoints' REST API: what a school may register, bad input, and the event log's filters.</summary>
public sealed class WebhookEndpointTests(WebhookEndpointTests.ProductionLikeApp app) : IClassFixture<WebhookEndpointTests.ProductionLikeApp>
{
    /// <summary>The platform as outside Development: receivers must be public HTTPS addresses.</summary>
    public sealed class ProductionLikeApp : CallernApp
    {
        protected override IDictionary<string, string?> Settings => new Dictionary<string, string?> { ["Callern:Webhooks:AllowLocalReceivers"] = "false" };
    }

    [Theory]
    [InlineData("http://example.com/hooks")]
    [InlineData("https://127.0.0.1/hooks")]
    [InlineData("https://localhost/hooks")]
    [InlineData("https://10.1.2.3/hooks")]
    [InlineData("https://172.16.0.9/hooks")]
    [InlineData("https://192.168.1.1/hooks")]
    [InlineData("https://169.254.169.254/latest/meta-data")]
    [InlineData("https://100.64.0.1/hooks")]
    [InlineData("https://[::1]/hooks")]
    [InlineData("https://[fd00::1]/hooks")]
    [InlineData("https://[fe80::1]/hooks")]
    [InlineData("https://[::ffff:10.0.0.1]/hooks")]
    [InlineData("https://0.0.0.0/hooks")]
    [InlineData("https://intranet/hooks")]
    [InlineData("https://user:pass@example.com/hooks")]
    [InlineData("ftp://example.com/hooks")]
    [InlineData("/relative")]
    public async Task Receivers_outside_the_public_https_internet_are_refused(string url)
    {
        var tenant = await app.CreateTenantAsync();
        var school = app.As(tenant, "backend", CallernRoles.Service);

        var response = await school.PostAsJsonAsync("/v1/webhook-endpoints", new { url });
        var listed = await app.SdkAs(tenant, "backend", CallernRoles.Service).ListWebhookEndpointsAsync();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("\"url\"", await response.Content.ReadAsStringAsync());
        Assert.Empty(listed.Items);
    }

    [Fact]
    public async Task Bad_input_is_refused_with_its_field_and_changes_nothing()
    {
        var tenant = await app.CreateTenantAsync();
        var school = app.As(tenant, "backend", CallernRoles.Service);
        var sdk = app.SdkAs(tenant, "backend", CallernRoles.Service);

        var unknownType = await school.PostAsJsonAsync("/v1/webhook-endpoints", new { url = "https://example.com/hooks", events = new[] { "call.exploded" } });
        var emptyTypes = await school.PostAsJsonAsync("/v1/webhook-endpoints", new { url = "https://example.com/hooks", events = Array.Empty<string>() });
        var noUrl = await school.PostAsJsonAsync("/v1/webhook-endpoints", new { description = "no url" });
        var longDescription = await school.PostAsJsonAsync("/v1/webhook-endpoints", new { url = "https://example.com/hooks", description = new string('d', 501) });
        var missingEndpoint = await school.DeleteAsync($"/v1/webhook-endpoints/{Guid.NewGuid()}");
        var badCursor = await school.GetAsync("/v1/events?cursor=bm90LWEtY3Vyc29y");
        var badType = await school.GetAsync("/v1/events?type=call.exploded");
        var badReplay = await school.PostAsJsonAsync($"/v1/webhook-endpoints/{Guid.NewGuid()}/replay", new { from = "2026-12-02T00:00:00Z", to = "2026-12-01T00:00:00Z" });
        var asStudent = await app.As(tenant, "s", CallernRoles.Student).GetAsync("/v1/webhook-endpoints");

        Assert.Equal(
            [HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.NotFound,
             HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.BadRequest, HttpStatusCode.Forbidden],
            new[] { unknownType, emptyTypes, noUrl, longDescription, missingEndpoint, badCursor, badType, badReplay, asStudent }.Select(r => r.StatusCode));
        Assert.Empty((await sdk.ListWebhookEndpointsAsync()).Items);
    }
}
