using System.Net;
using System.Net.Http.Json;
using Callern.Platform.Tests.Infrastructure;
using Callern.Sdk;

namespace Callern.Platform.Tests.Wallets;

public sealed class PackageTests(CallernApp app) : IClassFixture<CallernApp>
{
    [Fact]
    public async Task Admin_creates_updates_and_archives_packages_and_students_see_only_those_on_sale()
    {
        var tenant = await app.CreateTenantAsync();
        var admin = app.SdkAs(tenant, "admin-1", CallernRoles.Admin);
        var student = app.SdkAs(tenant, "student-1", CallernRoles.Student);

        var starter = await admin.CreatePackageAsync(new PackageInput { Name = "Starter", Minutes = 60, Price = 19.9m, Currency = "EUR", ValidityDays = 30 });
        var yearly = await admin.CreatePackageAsync(new PackageInput { Name = "Yearly", Minutes = 1200, Price = 24000m, Currency = "JPY" });
        Assert.Equal(19.90m, starter.Price);
        Assert.Equal("19.90", starter.Price.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Null(yearly.ValidityDays);

        var updated = await admin.UpdatePackageAsync(starter.Id, new PackageInput { Name = "Starter+", Minutes = 90, Price = 25m, Currency = "EUR", ValidityDays = 60 });
        Assert.Equal(("Starter+", 90, 25.00m, 60), (updated.Name, updated.Minutes, updated.Price, updated.ValidityDays));

        var archived = await admin.ArchivePackageAsync(yearly.Id);
        Assert.True(archived.Archived);

        var onSale = await student.ListPackagesAsync(null, null, null);
        Assert.Equal([starter.Id], onSale.Items.Select(p => p.Id));
        var all = await admin.ListPackagesAsync(null, null, true);
        Assert.Equal(2, all.Items.Count);
        var hidden = await Assert.ThrowsAnyAsync<CallernApiException>(() => student.GetPackageAsync(yearly.Id));
        Assert.Equal(404, hidden.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await app.As(tenant, "student-1", CallernRoles.Student).GetAsync("/v1/packages?includeArchived=true")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.As(tenant, "student-1", CallernRoles.Student)
            .PostAsJsonAsync("/v1/packages", new { name = "Free", minutes = 600, price = 0, currency = "EUR" })).StatusCode);
    }

    [Theory]
    [InlineData("currency", """{"name":"X","minutes":60,"price":10,"currency":"XYZ"}""")]
    [InlineData("currency", """{"name":"X","minutes":60,"price":10,"currency":"eur"}""")]
    [InlineData("price", """{"name":"X","minutes":60,"price":10.5,"currency":"JPY"}""")]
    [InlineData("price", """{"name":"X","minutes":60,"price":-1,"currency":"EUR"}""")]
    [InlineData("minutes", """{"name":"X","minutes":0,"price":10,"currency":"EUR"}""")]
    [InlineData("minutes", """{"name":"X","minutes":100000000,"price":10,"currency":"EUR"}""")]
    [InlineData("validityDays", """{"name":"X","minutes":60,"price":10,"currency":"EUR","validityDays":0}""")]
    [InlineData("name", """{"name":" ","minutes":60,"price":10,"currency":"EUR"}""")]
    public async Task Invalid_package_is_refused_with_a_field_error_and_nothing_is_created(string field, string body)
    {
        var tenant = await app.CreateTenantAsync();
        var http = app.As(tenant, "admin-1", CallernRoles.Admin);

        var response = await http.PostAsync("/v1/packages", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<Problem>();
        Assert.Contains(field, problem!.Errors.Keys);
        Assert.Empty((await app.SdkAs(tenant, "admin-1", CallernRoles.Admin).ListPackagesAsync(null, null, true)).Items);
    }

    [Fact]
    public async Task Another_schools_package_is_not_found()
    {
        var mine = await app.CreateTenantAsync("Mine");
        var theirs = await app.CreateTenantAsync("Theirs");
        var package = await app.CreatePackageAsync(theirs, 60, 30);
        var admin = app.SdkAs(mine, "admin-1", CallernRoles.Admin);

        Assert.Equal(404, (await Assert.ThrowsAnyAsync<CallernApiException>(() => admin.GetPackageAsync(package.Id))).StatusCode);
        Assert.Equal(404, (await Assert.ThrowsAnyAsync<CallernApiException>(() => admin.ArchivePackageAsync(package.Id))).StatusCode);
        Assert.False((await app.SdkAs(theirs, "admin-1", CallernRoles.Admin).GetPackageAsync(package.Id)).Archived);
    }

    private sealed record Problem(int Status, Dictionary<string, string[]> Errors);
}
