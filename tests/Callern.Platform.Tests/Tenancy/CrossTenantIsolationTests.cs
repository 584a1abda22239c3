using System.Net;
using System.Text;
using Callern.Platform.Tenancy;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Callern.Platform.Tests.Tenancy;

/// <summary>
/// Walks every tenant-scoped route the app maps (not a hand-picked list) and calls it with
/// tenant B's tokens against tenant A's ids: nothing of A is revealed, nothing of A changes.
/// </summary>
public sealed class CrossTenantIsolationTests(CallernApp app) : IClassFixture<CallernApp>
{
    private const string VictimId = "victim-1";
    private const string Marker = "Marker-A-7f3a9c";

    /// <summary>A value of tenant A for each route parameter name, filled as A's data is made. A new route parameter must be added here.</summary>
    private readonly Dictionary<string, string> _routeValues = new(StringComparer.OrdinalIgnoreCase) { ["id"] = VictimId };

    private static readonly Dictionary<string, string> RoleForPolicy = new()
    {
        [Policies.TenantUser] = CallernRoles.Admin,
        [Policies.Admin] = CallernRoles.Admin,
        [Policies.AdminOrService] = CallernRoles.Service,
        [Policies.Student] = CallernRoles.Student,
        [Policies.Teacher] = CallernRoles.Teacher,
        [Policies.Participant] = CallernRoles.Student,
    };

    [Fact]
    public async Task Every_tenant_route_hides_and_protects_another_tenants_data()
    {
        var a = await app.CreateTenantAsync("School A");
        var b = await app.CreateTenantAsync("School B");
        var adminA = app.SdkAs(a, "admin-a", CallernRoles.Admin);
        await adminA.UpsertStudentAsync(VictimId, new StudentInput { DisplayName = Marker, TimeZone = "UTC", TargetLanguage = "en", Level = "B1" });
        var package = await adminA.CreatePackageAsync(new PackageInput { Name = Marker, Minutes = 60, Price = 10m, Currency = "EUR", ValidityDays = 30 });
        var purchase = await adminA.RecordPurchaseAsync(VictimId, "key-a-1", new PurchaseRequest { PackageId = package.Id, PaymentReference = Marker });
        _routeValues["packageId"] = package.Id.ToString();
        _routeValues["purchaseId"] = purchase.Id.ToString();
        // Nobody teaches at level C2 in A, so the call waits in the queue and stays put during the walk.
        var call = await app.SdkAs(a, VictimId, CallernRoles.Student).RequestCallAsync(new CallRequest { Language = "en", Level = "C2" });
        _routeValues["callId"] = call.Id.ToString();
        // A queued call has no shared files yet: B must get 404 for a file id under A's call all the same.
        _routeValues["fileId"] = Guid.CreateVersion7().ToString();
        await adminA.UpsertTeacherAsync(VictimId, new TeacherInput
        {
            DisplayName = Marker, TimeZone = "UTC", Languages = [new TeacherLanguage { Language = "en-GB", Levels = ["B1"] }], Specializations = ["business"],
        });
        await adminA.BlockPairAsync(VictimId, VictimId, new BlockRequest { Reason = Marker });
        _routeValues["userId"] = _routeValues["studentId"] = _routeValues["teacherId"] = VictimId;
        var settings = await adminA.GetSettingsAsync();
        settings.AllowedOrigins = ["https://a.example"];
        settings.DefaultTokenTtlSeconds = 1234;
        await adminA.UpdateSettingsAsync(settings);
        var endpoint = await app.SdkAs(a, "backend-a", CallernRoles.Service)
            .CreateWebhookEndpointAsync(new CreateWebhookEndpointRequest { Url = "https://a.example/hooks", Description = Marker });
        _routeValues["endpointId"] = endpoint.Endpoint.Id.ToString();
        var before = await SnapshotAsync(a);

        var routes = TenantRoutes().ToList();
        Assert.NotEmpty(routes);
        foreach (var (method, pattern, policy, parameters) in routes)
        {
            var path = "/" + pattern.TrimStart('/');
            foreach (var parameter in parameters)
            {
                Assert.True(_routeValues.TryGetValue(parameter, out var value), $"Add a tenant-A value for route parameter '{parameter}' of {pattern}.");
                path = System.Text.RegularExpressions.Regex.Replace(path, "\\{" + parameter + "(:[^}]*)?\\}", value);
            }
            var client = app.As(b, "victim-1", RoleForPolicy[policy]);
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (method is "POST" or "PUT" or "PATCH")
            {
                request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
            }

            var response = await client.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();

            Assert.DoesNotContain(Marker, body);
            Assert.DoesNotContain(a.Id.ToString(), body);
            if (parameters.Count > 0 && method is "GET" or "DELETE")
            {
                Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{method} {path} as tenant B answered {(int)response.StatusCode}, not 404.");
            }
        }

        Assert.Equal(before, await SnapshotAsync(a));
    }

    private async Task<string> SnapshotAsync(TestTenant tenant)
    {
        var admin = app.As(tenant, "admin-a", CallernRoles.Admin);
        var parts = new[]
        {
            $"/v1/students/{VictimId}", $"/v1/teachers/{VictimId}", "/v1/students", "/v1/teachers", "/v1/settings",
            "/v1/packages", $"/v1/students/{VictimId}/wallet", $"/v1/students/{VictimId}/wallet/transactions",
            $"/v1/calls/{_routeValues["callId"]}", "/v1/calls", $"/v1/blocks?studentId={VictimId}", "/v1/webhook-endpoints", "/v1/events",
        };
        var bodies = new List<string>();
        foreach (var part in parts)
        {
            bodies.Add(await admin.GetStringAsync(part));
        }
        return string.Join("\n", bodies);
    }

    private IEnumerable<(string Method, string Pattern, string Policy, IReadOnlyList<string> Parameters)> TenantRoutes()
    {
        foreach (var endpoint in app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            var policy = endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(d => d.Policy).LastOrDefault(p => p is not null);
            if (policy is null || !RoleForPolicy.ContainsKey(policy))
            {
                continue;
            }
            var parameters = endpoint.RoutePattern.Parameters.Select(p => p.Name).ToList();
            foreach (var method in endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? [])
            {
                yield return (method, endpoint.RoutePattern.RawText!, policy, parameters);
            }
        }
    }
}
