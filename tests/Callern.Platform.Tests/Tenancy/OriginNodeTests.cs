using System.Net;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using static Callern.Platform.Tests.Tenancy.OriginTests;

namespace Callern.Platform.Tests.Tenancy;

/// <summary>Two platform nodes on one database: an origin change made through either is effective on the other at once.</summary>
public sealed class OriginNodeTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task An_origin_added_or_removed_on_one_node_takes_effect_on_another_without_waiting_for_its_cache()
    {
        // The fake clock stands still, so no cache entry expires: only the change notification can tell node B.
        var tenant = await app.CreateTenantAsync();
        await using var nodeB = app.NextNode();
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);
        var studentOnB = nodeB.As(tenant, "s1", CallernRoles.Student);
        var browserOnB = nodeB.Anonymous();
        await AssertOriginRefusedAsync(await FromOriginAsync(studentOnB, "/v1/me/wallet", "https://nodes.school.example"));
        Assert.Null(AllowedOriginHeader(await PreflightAsync(browserOnB, "https://nodes.school.example")));

        await admin.AddAllowedOriginAsync(new AddOriginRequest { Origin = "https://nodes.school.example" });

        var onB = await Polling.EventuallyAsync(() => FromOriginAsync(studentOnB, "/v1/me/wallet", "https://nodes.school.example"), r => r.IsSuccessStatusCode);
        Assert.Equal(HttpStatusCode.OK, onB.StatusCode);
        Assert.Equal("https://nodes.school.example", AllowedOriginHeader(await PreflightAsync(browserOnB, "https://nodes.school.example")));

        await CallernApp.Sdk(nodeB.As(tenant, "admin-1", CallernRoles.Admin)).RemoveAllowedOriginAsync("https://nodes.school.example");

        var studentOnA = app.As(tenant, "s1", CallernRoles.Student);
        await AssertOriginRefusedAsync(await Polling.EventuallyAsync(
            () => FromOriginAsync(studentOnA, "/v1/me/wallet", "https://nodes.school.example"), r => r.StatusCode == HttpStatusCode.Forbidden));
    }
}
